import { resolveDataset } from '@duel/datasets';
import { nodeDatasetLoader } from '@duel/datasets-node';
import { evaluateQuality } from '@duel/trainer';
import { parse, num } from '../args';
import { coordinatorFlags, coordinatorOptionsFrom } from '../coordinator.flags';
import { runDistributed } from '../distributed-run';
import { microBatchArgs } from '../run-config.flags';

/**
 * `duel start` (what `npm start` runs): a coordinator plus N local worker
 * processes, the dashboard URL, a live progress bar, and the quality table at
 * the end. It keeps serving until Ctrl-C, or exits when done with --exit.
 */
export async function startCommand(argv: string[]): Promise<number> {
  const a = parse(argv, {
    ...coordinatorFlags,
    workers: { type: 'string', default: '2' },
    backend: { type: 'string', default: 'auto' },
    exit: { type: 'boolean', default: false },
    'micro-batch': { type: 'string' },
  });
  const n = num(a.workers, 'workers')!;
  const opts = coordinatorOptionsFrom(a);
  const micro = microBatchArgs(a['micro-batch'], opts.run);
  const run = await runDistributed(opts, n, a.backend!, {
    workerArgs: () => micro,
    onStarted: (c) => {
      process.stderr.write(`duel: coordinator on ${c.url} (workers join ${c.wsUrl})\n`);
      process.stderr.write(`duel: dashboard ${c.url}/   volunteer ${c.url}/volunteer   status ${c.url}/api/status   metrics ${c.url}/metrics\n`);
      process.stderr.write(`duel: ${opts.run.dataset} / ${opts.run.model}, ${opts.run.steps} steps, ${n} local workers\n`);
    },
  });
  const svc = run.coordinator.service;
  await run.workers.stop();
  const dataset = await resolveDataset(opts.run.dataset, nodeDatasetLoader());
  const quality = await evaluateQuality({ sample: (k, seed) => svc.samples(k, seed) }, dataset);
  svc.quality = quality;
  process.stdout.write(`\nrun ${svc.runId}: ${svc.state.step} steps in ${run.seconds.toFixed(1)} s\n`);
  process.stdout.write(`${table(quality as unknown as Record<string, unknown>)}\n`);
  if (a.exit) {
    await run.coordinator.close();
    return 0;
  }
  process.stderr.write(`duel: run complete; still serving ${run.coordinator.url}/ (Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await run.coordinator.close();
  return 0;
}

export function table(q: Record<string, unknown>): string {
  const rows = Object.entries(q).filter(([k]) => k !== 'kind');
  const w = Math.max(...rows.map(([k]) => k.length));
  const line = `+${'-'.repeat(w + 2)}+${'-'.repeat(12)}+`;
  const body = rows.map(([k, v]) => `| ${k.padEnd(w)} | ${String(typeof v === 'number' ? Number(v.toFixed(4)) : v).padStart(10)} |`);
  return [line, `| ${'metric'.padEnd(w)} | ${'value'.padStart(10)} |`, line, ...body, line].join('\n');
}
