import { SingleBar, Presets } from 'cli-progress';
import { nodeDatasetLoader } from '@duel/datasets-node';
import { resolveDataset } from '@duel/datasets';
import { selectNodeBackend } from '@duel/gan-node';
import { LocalTrainer, evaluateQuality, resolveRunConfig, type LocalTrainerOptions, type StepMetrics } from '@duel/trainer';
import { DuelError, ErrorCodes } from '@duel/util';
import { applyAttack, attackFor, parseAttacks } from '@duel/worker-node';
import { parse, num } from '../args';
import { weightsDigest } from '../digest';
import { microBatchFrom, runConfigFlags, runConfigFrom } from '../run-config.flags';

/**
 * `duel local`: the single-process reference trainer. Progress goes to stderr;
 * with --json the last line on stdout is the run summary.
 */
export async function localCommand(argv: string[]): Promise<number> {
  const a = parse(argv, {
    ...runConfigFlags,
    backend: { type: 'string', default: 'auto' },
    shards: { type: 'string' },
    strategy: { type: 'string' },
    json: { type: 'boolean', default: false },
    'eval-every': { type: 'string' },
    'micro-batch': { type: 'string' },
    // Tests and defence experiments only: the last N shards are Byzantine (needs DUEL_ALLOW_ATTACKS=1), as `duel train --attackers`.
    attackers: { type: 'string' },
    attack: { type: 'string' },
    'attack-z': { type: 'string' },
  });
  const cfg = resolveRunConfig(runConfigFrom(a));
  const microBatch = microBatchFrom(a['micro-batch'], cfg);
  const backend = await selectNodeBackend(a.backend as never);
  const dataset = await resolveDataset(cfg.dataset, nodeDatasetLoader());
  const numShards = num(a.shards, 'shards') ?? 1;
  const tamper = byzantineShards(numShards, num(a.attackers, 'attackers') ?? 0, a.attack, num(a['attack-z'], 'attack-z'));
  const trainer = new LocalTrainer(cfg, dataset, { numShards, strategy: a.strategy, tamper, microBatch });
  const evalEvery = num(a['eval-every'], 'eval-every') ?? 0;
  process.stderr.write(`duel local: ${cfg.dataset} / ${cfg.model} on ${backend.name} (${backend.reason}), ${cfg.steps} steps, seed ${cfg.seed}\n`);

  const bar = new SingleBar(
    { format: 'train [{bar}] {value}/{total} | D {dLoss} G {gLoss} | D(x) {dReal} D(G(z)) {dFake} | {ips} img/s', stream: process.stderr, hideCursor: true, noTTYOutput: true, notTTYSchedule: 10_000 },
    Presets.shades_classic,
  );
  bar.start(cfg.steps, 0, { dLoss: '-', gLoss: '-', dReal: '-', dFake: '-', ips: '-' });
  const t0 = performance.now();
  let samples = 0;
  let last: StepMetrics | null = null;
  const history: unknown[] = [];
  if (evalEvery > 0) history.push({ step: 0, ...(await evaluateQuality(trainer, dataset)) });
  let lastYield = performance.now();
  while (!trainer.done) {
    last = await trainer.step();
    // A step resolves through microtasks only (wasm and cpu kernels are synchronous), so timers
    // such as the non-TTY progress line and signal handlers never ran; give them a turn.
    if (performance.now() - lastYield > 200) {
      await new Promise((r) => setImmediate(r));
      lastYield = performance.now();
    }
    samples += last.samples;
    const secs = (performance.now() - t0) / 1000;
    bar.update(last.step, {
      dLoss: last.dLoss.toFixed(3),
      gLoss: last.gLoss.toFixed(3),
      dReal: last.dReal.toFixed(2),
      dFake: last.dFake.toFixed(2),
      ips: Math.round(samples / secs),
    });
    if (evalEvery > 0 && last.step % evalEvery === 0) history.push({ step: last.step, ...(await evaluateQuality(trainer, dataset)) });
  }
  bar.stop();
  const seconds = (performance.now() - t0) / 1000;
  const quality = await evaluateQuality(trainer, dataset);
  trainer.dispose();
  const summary = {
    mode: 'local',
    dataset: cfg.dataset,
    model: cfg.model,
    backend: backend.name,
    seed: cfg.seed,
    steps: trainer.state.step,
    versions: trainer.state.versions,
    weightsDigest: weightsDigest(trainer.state.weights.G, trainer.state.weights.D),
    seconds: Number(seconds.toFixed(2)),
    imgsPerSec: Math.round(samples / seconds),
    final: last,
    quality,
    ...(history.length ? { history } : {}),
    config: cfg,
  };
  if (a.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(`${formatQuality(summary.quality as unknown as Record<string, unknown>)}\n`);
  return 0;
}

/**
 * `--attackers N --attack signflip,…`: shards numShards−N … numShards−1 send
 * attacked gradients, chosen task by task exactly as a `duel worker --attack`
 * process with `--attack-seed` = its index does. ALIE's μ and σ come from the
 * honest gradients of the shard and the next four (a worker computes the same
 * four from its shadow model).
 */
function byzantineShards(numShards: number, attackers: number, list: string | undefined, z: number | undefined): LocalTrainerOptions['tamper'] {
  if (attackers === 0) return undefined;
  if (!(Number.isInteger(attackers) && attackers > 0 && attackers < numShards)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `--attackers must be an integer in 0..${numShards - 1} (--shards ${numShards})`);
  const attacks = parseAttacks(list ?? '', process.env);
  return (task, seed, honest) => {
    if (task.shard < numShards - attackers) return null;
    const attack = attackFor(attacks, seed, task.shard);
    const samples = attack === 'alie' ? [1, 2, 3, 4].map((i) => honest[(task.shard + i) % numShards]) : [];
    return applyAttack(attack, honest[task.shard], { seed, offset: task.shard, z: z ?? 1, samples });
  };
}

function formatQuality(q: Record<string, unknown>): string {
  return Object.entries(q)
    .map(([k, v]) => `${k.padEnd(16)} ${typeof v === 'number' ? Number(v.toFixed(4)) : String(v)}`)
    .join('\n');
}
