/**
 * Times training steps as a worker runs them: one D-gradient (real + fake
 * batch) and one G-gradient, each read back to the CPU. Imports only the GAN
 * libs, so tools/device bundles it without the coordinator.
 */
import { discriminatorGradients, GanModel, generatorGradients, initWeights, resolveModel, tf } from '@duel/gan';
import { Rng } from '@duel/util';

export interface StepTimes {
  /** The first step's ms: on a GPU backend it includes compiling the step's kernels for this batch. */
  firstMs: number;
  /** ms of each timed step, after the warm-up. */
  times: number[];
}

export interface TimeStepsOptions {
  /** Stop timing once this many ms of timed steps are spent (at least `minSteps` are timed). */
  budgetMs?: number;
  minSteps?: number;
  /** Run each batch in micro-batches of this many samples (StepOptions.microBatch). */
  microBatch?: number;
}

/** Times `steps` steps of `modelName` at `batch` after `warmup` untimed ones, on the current tfjs backend. */
export async function timeSteps(modelName: string, batch: number, warmup: number, steps: number, opts: TimeStepsOptions = {}): Promise<StepTimes> {
  const model = newModel(modelName);
  const per = model.spec.dataShape.reduce((a, b) => a * b, 1);
  const rng = new Rng(3);
  const real = Float32Array.from({ length: batch * per }, () => 2 * rng.uniform() - 1);
  const times: number[] = [];
  let firstMs = Number.NaN;
  let spent = 0;
  try {
    for (let i = 0; i < warmup + steps; i++) {
      const t0 = performance.now();
      await discriminatorGradients(model, real, 100 + i, { microBatch: opts.microBatch });
      await generatorGradients(model, batch, 200 + i, { microBatch: opts.microBatch });
      const dt = performance.now() - t0;
      if (i === 0) firstMs = dt;
      if (i < warmup) continue;
      times.push(dt);
      spent += dt;
      if (opts.budgetMs !== undefined && spent > opts.budgetMs && times.length >= (opts.minSteps ?? 2)) break;
    }
  } finally {
    model.dispose();
  }
  return { firstMs, times };
}

/**
 * The most bytes of tensors alive at once during one step (tf.profile's
 * peakBytes over its D and G gradients), less the bytes alive before it (the
 * model's weights): the step's working memory on the backend.
 */
export async function stepPeakBytes(modelName: string, batch: number, microBatch?: number): Promise<number> {
  const model = newModel(modelName);
  const per = model.spec.dataShape.reduce((a, b) => a * b, 1);
  const rng = new Rng(3);
  const real = Float32Array.from({ length: batch * per }, () => 2 * rng.uniform() - 1);
  try {
    const base = tf.memory().numBytes;
    const d = await tf.profile(async () => void (await discriminatorGradients(model, real, 100, { microBatch })));
    const g = await tf.profile(async () => void (await generatorGradients(model, batch, 200, { microBatch })));
    return Math.max(d.peakBytes, g.peakBytes) - base;
  } finally {
    model.dispose();
  }
}

/**
 * ms to read back tensors the size of one step's gradients (D's and G's) from
 * the backend to the CPU, as a worker does with each result: each tensor is
 * made on the backend (w + 0) and then downloaded. Median of `reps`.
 */
export async function readbackMs(modelName: string, reps: number): Promise<number> {
  const model = newModel(modelName);
  const times: number[] = [];
  try {
    for (let i = 0; i < reps + 1; i++) {
      const made = [...model.tensors('D'), ...model.tensors('G')].map((t) => tf.add(t, 0));
      // Wait for the adds alone (a backend runs its queue in order), so the timed part is the download.
      const flush = tf.add(made[made.length - 1], 0);
      await flush.data();
      flush.dispose();
      const t0 = performance.now();
      await Promise.all(made.map((t) => t.data()));
      if (i > 0) times.push(performance.now() - t0);
      tf.dispose(made);
    }
  } finally {
    model.dispose();
  }
  return median(times);
}

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function newModel(modelName: string): GanModel {
  const model = new GanModel(resolveModel(modelName));
  model.setWeights('G', initWeights(model.layout.G, 1));
  model.setWeights('D', initWeights(model.layout.D, 2));
  return model;
}
