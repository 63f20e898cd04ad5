import { deriveSeed, DuelError, ErrorCodes } from '@duel/util';
import { discriminatorGradients, generatorGradients, type GanModel, type GeneratorPart, type GradientResult, type Net, type RealPart } from '@duel/gan';
import type { ShardSampler } from '@duel/datasets';
import type { RunConfig } from './run-config';

/**
 * One unit of work: a gradient of one network at one point of the schedule, on
 * one shard's slice of the global batch. Everything a worker draws (the real
 * batch and z) is a pure function of the task, so a task re-sent after a
 * reconnect, or sent to two volunteers for validation, yields the same gradient.
 */
export interface TaskSpec {
  phase: Net;
  /** 1-based training step (one step = k D-updates + one G-update). */
  step: number;
  /** D-update index within the step, 0..k-1; 0 for G. */
  sub: number;
  shard: number;
  numShards: number;
  /** This shard's part of the global batch (a multiple of pack). */
  batch: number;
}

const Z_TAG = 0x7a5eed; // stream tag for latent draws

/** Seed of z for a task. */
export function taskSeed(runSeed: number, t: Pick<TaskSpec, 'phase' | 'step' | 'sub' | 'shard'>): number {
  return deriveSeed(Z_TAG, runSeed, t.phase === 'D' ? 0 : 1, t.step, t.sub, t.shard);
}

/** Global index of a D-update: the real-data cursor of every shard's sampler. */
export function dCursor(k: number, step: number, sub: number): number {
  return (step - 1) * k + sub;
}

/**
 * Splits the global batch over `numShards` in whole packs, as evenly as
 * possible: 256 over 3 shards with pack 2 → [86, 86, 84].
 */
export function splitBatch(batchSize: number, numShards: number, pack: number): number[] {
  const units = batchSize / pack;
  if (!Number.isInteger(units) || units < numShards) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `batch ${batchSize} cannot be split into ${numShards} shards of whole packs of ${pack}`);
  }
  const base = Math.floor(units / numShards);
  const extra = units % numShards;
  return Array.from({ length: numShards }, (_, i) => (base + (i < extra ? 1 : 0)) * pack);
}

/** The tasks of one update (one D-sub-step or the G-step) over `numShards` shards. */
export function planTasks(cfg: RunConfig, phase: Net, step: number, sub: number, numShards: number): TaskSpec[] {
  return splitBatch(cfg.batchSize, numShards, cfg.pack).map((batch, shard) => ({ phase, step, sub, shard, numShards, batch }));
}

/**
 * Computes a task's gradient on the model's current weights.
 * @param cfg only seed, k and loss are read
 * @param sampler this task's shard sampler (D tasks only; ignored for G)
 * @param seed the task's z seed; a worker passes the one its task frame carries
 * @param topK G tasks only: the top-k share of fake packs G descends on (1 = all)
 * @param ahead part of this task computed beforehand, consumed: for a D task
 *   its real half on the same D weights and real batch (discriminatorRealPart),
 *   for a G task G(z) on the same G weights, batch and seed (generatorForwardPart)
 */
export async function executeTask(
  model: GanModel,
  cfg: Pick<RunConfig, 'seed' | 'k' | 'loss'>,
  task: TaskSpec,
  sampler: ShardSampler | null,
  seed: number = taskSeed(cfg.seed, task),
  topK = 1,
  ahead?: RealPart | GeneratorPart,
  microBatch?: number,
): Promise<GradientResult> {
  // A part computed for the other phase is of no use here.
  const isG = (p: RealPart | GeneratorPart | undefined): p is GeneratorPart => p !== undefined && 'fake' in p;
  if (ahead && isG(ahead) !== (task.phase === 'G')) ahead.dispose();
  if (task.phase === 'G') return generatorGradients(model, task.batch, seed, { loss: cfg.loss, topK, microBatch }, isG(ahead) ? ahead : undefined);
  const pre = isG(ahead) ? undefined : ahead;
  if (pre && pre.batch !== task.batch) {
    pre.dispose();
    throw new DuelError(ErrorCodes.SHAPE_MISMATCH, `the real half was computed on ${pre.batch} samples, the task has ${task.batch}`);
  }
  // With the real half in hand the real batch is not drawn again.
  if (pre) return discriminatorGradients(model, pre, seed, { loss: cfg.loss, microBatch });
  if (!sampler) throw new DuelError(ErrorCodes.BAD_ARGUMENT, 'a D task needs a data sampler');
  return discriminatorGradients(model, realBatchOf(cfg, task, sampler), seed, { loss: cfg.loss, microBatch });
}

/** The real batch of a D task: the shard sampler's batch at the task's D-update cursor. */
export function realBatchOf(cfg: Pick<RunConfig, 'k'>, task: Pick<TaskSpec, 'step' | 'sub' | 'batch'>, sampler: ShardSampler): Float32Array {
  return sampler.batch(dCursor(cfg.k, task.step, task.sub), task.batch);
}
