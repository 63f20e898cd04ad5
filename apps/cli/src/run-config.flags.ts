import { microBatchProblem, wholeBatchOnly } from '@duel/gan';
import { ganSpecFor, type RunConfig } from '@duel/trainer';
import { DuelError, ErrorCodes } from '@duel/util';
import { num } from './args';

/** Flags shared by every command that defines a run (local, train, start, coordinator). */
export const runConfigFlags = {
  dataset: { type: 'string', default: 'ring8' },
  model: { type: 'string' },
  steps: { type: 'string' },
  seed: { type: 'string' },
  k: { type: 'string' },
  batch: { type: 'string' },
  loss: { type: 'string' },
  'lr-d': { type: 'string' },
  'lr-g': { type: 'string' },
  'lr-decay': { type: 'string' },
  'lr-floor': { type: 'string' },
  'g-ema': { type: 'string' },
  pack: { type: 'string' },
  'minibatch-std': { type: 'boolean' },
  'top-k': { type: 'string' },
  hidden: { type: 'string' },
  'latent-dim': { type: 'string' },
  'data-scale': { type: 'string' },
} as const;

type Values = Partial<Record<keyof typeof runConfigFlags, string | boolean | undefined>>;

export function runConfigFrom(a: Values): Partial<RunConfig> & { dataset: string } {
  const s = (k: keyof typeof runConfigFlags) => a[k] as string | undefined;
  return {
    dataset: s('dataset') ?? 'ring8',
    model: s('model'),
    steps: num(s('steps'), 'steps'),
    seed: num(s('seed'), 'seed'),
    k: num(s('k'), 'k'),
    batchSize: num(s('batch'), 'batch'),
    loss: s('loss') as RunConfig['loss'] | undefined,
    lrD: num(s('lr-d'), 'lr-d'),
    lrG: num(s('lr-g'), 'lr-g'),
    lrDecay: s('lr-decay') as RunConfig['lrDecay'] | undefined,
    lrFloor: num(s('lr-floor'), 'lr-floor'),
    gEma: num(s('g-ema'), 'g-ema'),
    pack: num(s('pack'), 'pack'),
    minibatchStd: a['minibatch-std'] as boolean | undefined,
    topK: num(s('top-k'), 'top-k'),
    hidden: num(s('hidden'), 'hidden'),
    latentDim: num(s('latent-dim'), 'latent-dim'),
    dataScale: num(s('data-scale'), 'data-scale'),
  };
}

/**
 * `--micro-batch N` of `duel local`, `train` and `start` (for `start` and `train`
 * it is passed to every worker they spawn, as `duel worker --micro-batch N`):
 * checked against the run's pack here, once, not by each worker at its welcome.
 * A run whose D cannot take micro-batches (minibatch std) says so on stderr.
 */
export function microBatchFrom(v: string | undefined, run: RunConfig): number | undefined {
  const n = num(v, 'micro-batch');
  if (n === undefined) return undefined;
  const spec = ganSpecFor(run);
  const problem = microBatchProblem(spec, n);
  if (problem) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `--micro-batch ${problem}`);
  const whole = wholeBatchOnly(spec);
  if (whole) process.stderr.write(`duel: --micro-batch ${n} ignored: ${whole}; every batch runs whole\n`);
  return n;
}

/** The `duel worker` arguments that pass a checked `--micro-batch` on to spawned workers ([] without one). */
export function microBatchArgs(v: string | undefined, run: RunConfig): string[] {
  const n = microBatchFrom(v, run);
  return n === undefined ? [] : ['--micro-batch', String(n)];
}
