import { evaluateQuality } from '@duel/trainer';
import { DuelError, ErrorCodes } from '@duel/util';
import { parseAttacks } from '@duel/worker-node';
import { parse, num } from '../args';
import { weightsDigest } from '../digest';
import { coordinatorOptionsFrom, coordinatorFlags } from '../coordinator.flags';
import { runDistributed } from '../distributed-run';
import { microBatchArgs } from '../run-config.flags';
import { resolveDataset } from '@duel/datasets';
import { nodeDatasetLoader } from '@duel/datasets-node';

/**
 * `duel train`: a headless distributed run: an in-process coordinator and N
 * worker processes over real WebSockets. With --json the last stdout line is
 * the summary. Shards default to N, so the run reproduces `duel local --shards N`.
 */
export async function trainCommand(argv: string[]): Promise<number> {
  const a = parse(argv, {
    ...coordinatorFlags,
    workers: { type: 'string', default: '2' },
    backend: { type: 'string', default: 'auto' },
    json: { type: 'boolean', default: false },
    'eval-every': { type: 'string' },
    'micro-batch': { type: 'string' },
    // Tests only (tests/quality/byzantine.test.ts): the last N workers send attacked gradients; needs DUEL_ALLOW_ATTACKS=1.
    attackers: { type: 'string' },
    attack: { type: 'string' },
    'attack-z': { type: 'string' },
  });
  const n = num(a.workers, 'workers')!;
  const opts = coordinatorOptionsFrom(a, { port: num(a.port, 'port') ?? 0, exitOnComplete: true });
  if (a.shards === undefined) opts.shards = n;
  const attackers = num(a.attackers, 'attackers') ?? 0;
  if (!(Number.isInteger(attackers) && attackers >= 0 && attackers < n)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `--attackers must be an integer in 0..${n - 1}`);
  if (attackers > 0) parseAttacks(a.attack ?? '', process.env); // refused here, not in N children, without DUEL_ALLOW_ATTACKS=1
  const micro = microBatchArgs(a['micro-batch'], opts.run);
  const workerArgs = (i: number) => {
    if (i < n - attackers) return micro;
    return [...micro, '--attack', a.attack!, '--attack-seed', String(i), ...(a['attack-z'] ? ['--attack-z', a['attack-z']] : [])];
  };
  const evalEvery = num(a['eval-every'], 'eval-every') ?? 0;
  if (!(Number.isInteger(evalEvery) && evalEvery >= 0)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, '--eval-every must be a non-negative integer');
  const run = await runDistributed(opts, n, a.backend!, { quiet: a.json && !process.stderr.isTTY, workerArgs, evalEvery });
  const svc = run.coordinator.service;
  await run.workers.stop();
  const dataset = await resolveDataset(opts.run.dataset, nodeDatasetLoader());
  const quality = await evaluateQuality({ sample: (k, seed) => svc.samples(k, seed) }, dataset);
  const summary = {
    mode: 'distributed',
    dataset: opts.run.dataset,
    model: opts.run.model,
    workers: n,
    attackers,
    shards: opts.shards,
    seed: opts.run.seed,
    steps: svc.state.step,
    versions: svc.state.versions,
    weightsDigest: weightsDigest(svc.state.weights.G, svc.state.weights.D),
    seconds: Number(run.seconds.toFixed(2)),
    imgsPerSec: svc.recorder.latest.imgsPerSec,
    final: svc.recorder.latest,
    quality,
    ...(evalEvery > 0 ? { history: svc.qualityHistory } : {}),
    workerStats: svc.workerStats(),
    config: opts.run,
  };
  await run.coordinator.close();
  if (a.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(`${JSON.stringify(quality, null, 2)}\n`);
  return 0;
}
