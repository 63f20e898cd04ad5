import { DuelError, ErrorCodes, type NamedWeights, type TensorSpec } from '@duel/util';
import { discriminatorLossTerms, generatorLoss } from './losses';
import { dataSize, latentBatch, type GanModel } from './model';
import { backwardNet, forwardNetTraced, isTraceable, packSamples, type NetTrace } from './network';
import type { GanLoss, GanSpec } from './spec';
import { tf } from './tf';

export interface StepStats {
  /** The loss this step minimised (L_D or L_G). */
  loss: number;
  /** Mean D(x) = σ(logit) over real packs (D step only; NaN in a G step). */
  dReal: number;
  /** Mean D(G(z)) over fake packs. */
  dFake: number;
  /** Samples used: real + fake for D, fake for G. */
  samples: number;
}

export interface GradientResult {
  /** Gradients in the canonical order of the net's layout. */
  grads: NamedWeights;
  stats: StepStats;
}

export interface StepOptions {
  loss?: GanLoss;
  /**
   * G step only: the share of fake packs, in (0, 1], whose loss G descends on:
   * the ones D scores as most real (Sinha et al. 2020, "Top-k Training of GANs:
   * Improving GAN Performance by Throwing Away Bad Samples"). The worst-scored
   * fakes, the ones between modes, get gradients that can push them further
   * from their nearest mode; dropping them sharpens the modes. 1 (default) uses
   * every pack.
   */
  topK?: number;
  /**
   * The most samples run through the nets at once: a multiple of the pack. A
   * larger batch runs in micro-batches of this size (the last may be smaller).
   * Each one's gradient is scaled by its share of the batch and added to a
   * running sum on the device, and the sum is read back once. That is the
   * batch's gradient up to float rounding, with one micro-batch's activations
   * alive at a time instead of the whole batch's: how a worker on a GPU, or
   * a browser, with too little memory for a batch still takes the task, and
   * how a large batch keeps a device busy without holding it all at once.
   * Unset or ≥ the batch: the batch runs whole, bit for bit as without it. A
   * D with a minibatch-std layer always runs whole, as that layer's statistic
   * spans the batch.
   */
  microBatch?: number;
}

/**
 * Why every batch of this spec runs whole whatever StepOptions.microBatch
 * says, or null when micro-batches apply.
 */
export function wholeBatchOnly(spec: GanSpec): string | null {
  return spec.discriminator.layers.some((l) => l.type === 'minibatchStd') ? "D has a minibatch-std layer, whose statistic spans the batch" : null;
}

/** One micro-batch of a batch: samples [start, start + size). */
export interface MicroBatch {
  readonly start: number;
  readonly size: number;
}

/** Why `microBatch` cannot be used with this spec's pack, or null when it can. */
export function microBatchProblem(spec: GanSpec, microBatch: number): string | null {
  return Number.isInteger(microBatch) && microBatch > 0 && microBatch % spec.pack === 0
    ? null
    : `${microBatch} is not a positive multiple of the pack (${spec.pack} samples)`;
}

/**
 * The micro-batches a batch of `batch` samples runs in (StepOptions.microBatch):
 * one, the whole batch, unless microBatch is below it.
 * @throws DuelError BAD_ARGUMENT when microBatch is not a positive multiple of the pack
 */
export function microBatches(spec: GanSpec, batch: number, microBatch?: number): MicroBatch[] {
  if (microBatch === undefined) return [{ start: 0, size: batch }];
  const problem = microBatchProblem(spec, microBatch);
  if (problem) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `microBatch ${problem}`);
  if (microBatch >= batch || wholeBatchOnly(spec) !== null) return [{ start: 0, size: batch }];
  const out: MicroBatch[] = [];
  for (let start = 0; start < batch; start += microBatch) out.push({ start, size: Math.min(microBatch, batch - start) });
  return out;
}

/** A loss term on one batch: its value, ∂/∂θ in canonical order, and the mean σ(logit) it saw. */
type Term = {
  value: tf.Scalar;
  grads: tf.Tensor[];
  mean: tf.Scalar;
};

/**
 * The sum over micro-batches of each one's term, plus `into` when given. Each
 * term comes already weighted by its micro-batch's share of the batch: its
 * loss is scaled before it is differentiated (scaled()), so the gradients come
 * out scaled with no op of their own. Each runs in a tidy of its own, so only
 * one micro-batch's activations are alive at a time, and the sums stay on the
 * device: the sum so far and the new term, and one tensor of their sum at a
 * time, are alive at once. One micro-batch and no `into` is its term as it
 * is; `into` (the caller's) is added first, as discriminatorGradients adds
 * the real half.
 */
function accumulate(parts: readonly (() => Term)[], into?: { value: tf.Scalar; grads: readonly tf.Tensor[] }): Term {
  let acc: Term | undefined;
  for (const run of parts) {
    const prev = acc;
    try {
      acc = tf.tidy(() => addTerm(run(), prev, into));
    } catch (e) {
      // The sum so far lives outside the failed tidy (disposing twice is a no-op).
      if (prev) tf.dispose([prev.value, prev.mean, ...prev.grads]);
      throw e;
    }
  }
  return acc!;
}

/**
 * t + (prev, or else into), tensor by tensor, each addend freed as soon as its
 * sum exists: the peak holds one extra tensor, not a third copy of the
 * gradients. A tape's kept tensors outlive the enclosing tidy unless freed
 * here; `into` is the caller's. Call inside tf.tidy.
 */
function addTerm(t: Term, prev: Term | undefined, into: { value: tf.Scalar; grads: readonly tf.Tensor[] } | undefined): Term {
  const base = prev ?? into;
  if (!base) return t;
  const grads = t.grads.map((g, i) => {
    const sum = tf.add(base.grads[i], g);
    g.dispose();
    if (prev) prev.grads[i].dispose();
    return sum;
  });
  const sum = { value: tf.add(base.value, t.value) as tf.Scalar, grads, mean: prev ? (tf.add(prev.mean, t.mean) as tf.Scalar) : t.mean };
  tf.dispose([t.value, ...(prev ? [t.mean, prev.value, prev.mean] : [])]);
  return sum;
}

/** A loss scaled by a micro-batch's share of the batch (the same function at 1). */
const scaled = (term: (logits: tf.Tensor) => tf.Scalar, share: number) => (share === 1 ? term : (l: tf.Tensor) => tf.mul(term(l), share) as tf.Scalar);

/** discriminatorTerm on one micro-batch, its loss and mean weighted by its share. */
function discriminatorShare(model: GanModel, x: tf.Tensor, term: (logits: tf.Tensor) => tf.Scalar, dParams: readonly tf.Tensor[], share: number): Term {
  const t = discriminatorTerm(model, x, scaled(term, share), dParams);
  if (share === 1) return t;
  const mean = tf.mul(t.mean, share) as tf.Scalar;
  // The tape path keeps its mean past the enclosing tidy.
  t.mean.dispose();
  return { ...t, mean };
}

/**
 * The real half of a discriminator gradient: ∂/∂θ_D of L_D's real term,
 * BCE(D(x), 1), on `real` through D as it is now. L_D is the sum of a term on
 * real data and a term on fakes, and the real term does not involve G, so a
 * worker may compute it before the weights of G for the task arrive
 * (TaskRunner's prefetch); discriminatorGradients adds the fake term on a
 * fake batch of the same size. Holds tensors until passed to
 * discriminatorGradients or disposed.
 */
export interface RealPart {
  readonly batch: number;
  /** ∂(real term)/∂θ_D in D's canonical order. */
  readonly grads: readonly tf.Tensor[];
  readonly value: tf.Scalar;
  /** Mean D(x) over the real packs. */
  readonly dReal: tf.Scalar;
  /** Milliseconds it took (a worker adds them to the task's computeMs). */
  readonly ms: number;
  dispose(): void;
}

/** @param real flat [B, ...dataShape], B divisible by spec.pack */
export function discriminatorRealPart(model: GanModel, real: Float32Array, opts: StepOptions = {}): RealPart {
  const t0 = performance.now();
  const { spec } = model;
  const batch = batchSizeOf(real.length, dataSize(spec), spec.pack);
  const terms = discriminatorLossTerms(opts.loss ?? 'nonsaturating');
  const dParams = model.tensors('D');
  const size = dataSize(spec);
  const { value, grads, mean: dReal } = accumulate(
    microBatches(spec, batch, opts.microBatch).map(
      ({ start, size: n }) =>
        () =>
          discriminatorShare(model, packSamples(tf.tensor(real.subarray(start * size, (start + n) * size), [n, ...spec.dataShape]), spec.pack), terms.real, dParams, n / batch),
    ),
  );
  const tensors = [value, dReal, ...grads];
  return { batch, grads, value, dReal, ms: performance.now() - t0, dispose: () => tf.dispose(tensors) };
}

/**
 * One discriminator gradient: L_D on a real batch and a fake batch G(z) of the
 * same size, z ~ N(0, I) from Rng(zSeed). G is held fixed.
 *
 * L_D = real term + fake term, each differentiated on its own and summed: the
 * same floats as one tape through both (float addition commutes, and the sum
 * passes each term an upstream gradient of exactly 1), so a real half
 * computed earlier on the same D changes nothing in the result.
 *
 * @param real flat [B, ...dataShape], B divisible by spec.pack; or the real
 *   half already computed on the current D (discriminatorRealPart), consumed (disposed)
 * @returns ∂L_D/∂θ_D in D's canonical order, and stats
 */
export async function discriminatorGradients(
  model: GanModel,
  real: Float32Array | RealPart,
  zSeed: number,
  opts: StepOptions = {},
): Promise<GradientResult> {
  const { spec } = model;
  const realPart = real instanceof Float32Array ? discriminatorRealPart(model, real, opts) : real;
  const batch = realPart.batch;
  const terms = discriminatorLossTerms(opts.loss ?? 'nonsaturating');
  const z = latentBatch(batch, spec.latentDim, zSeed);
  const gParams = model.tensors('G');
  const dParams = model.tensors('D');
  const latent = spec.latentDim;

  try {
    // The fake half's micro-batches are added to the real half: L_D's two terms.
    const { value, grads, mean: dFake } = accumulate(
      microBatches(spec, batch, opts.microBatch).map(({ start, size: n }) => () => {
        const fake = packSamples(model.generate(tf.tensor2d(z.subarray(start * latent, (start + n) * latent), [n, latent]), gParams), spec.pack);
        return discriminatorShare(model, fake, terms.fake, dParams, n / batch);
      }),
      realPart,
    );
    const stats = await readStats(value, realPart.dReal, dFake, 2 * batch);
    return { grads: await readGrads(grads, model.layout.D), stats };
  } finally {
    realPart.dispose();
  }
}

/**
 * The G half of a generator gradient: G(z) on the task's z, traced for the
 * backward pass (forwardNetTraced). It reads only G, which a D-update does not
 * change, so a worker may compute it while the coordinator applies the D
 * result before a G task and sends the new D (TaskRunner's prefetch);
 * generatorGradients then runs D and the backward pass through G on it. Holds
 * tensors until passed to generatorGradients or disposed.
 */
export interface GeneratorPart {
  readonly batch: number;
  readonly zSeed: number;
  /** G(z), [batch, ...dataShape]. */
  readonly fake: tf.Tensor;
  readonly trace: NetTrace;
  /** Milliseconds it took (a worker adds them to the task's computeMs). */
  readonly ms: number;
  dispose(): void;
}

/**
 * G(z) for a later generatorGradients, or null when G has a layer that
 * backwardNet does not cover (minibatch std, a D layer: it takes the tape),
 * or when the batch would run in micro-batches (StepOptions.microBatch): the
 * whole batch's G(z), kept for its backward pass, is what micro-batches avoid holding.
 */
export function generatorForwardPart(model: GanModel, batch: number, zSeed: number, microBatch?: number): GeneratorPart | null {
  const { spec } = model;
  if (!isTraceable(spec.generator) || microBatches(spec, batch, microBatch).length > 1) return null;
  const t0 = performance.now();
  batchSizeOf(batch * dataSize(spec), dataSize(spec), spec.pack);
  const z = latentBatch(batch, spec.latentDim, zSeed);
  const gParams = model.tensors('G');
  let shapes: readonly number[][] = [];
  const [fake, ...saved] = tf.tidy(() => {
    const { out, trace } = forwardNetTraced(spec.generator, gParams, tf.tensor2d(z, [batch, spec.latentDim]));
    shapes = trace.shapes;
    return [out, ...trace.saved];
  });
  return { batch, zSeed, fake, trace: { saved, shapes }, ms: performance.now() - t0, dispose: () => tf.dispose([fake, ...saved]) };
}

/**
 * One generator gradient: L_G on G(z), z ~ N(0, I) [batch, latentDim] from
 * Rng(zSeed), through a fixed D.
 *
 * For a G of TRACEABLE layers (the MLPs' and dcgan's) it runs in two parts: G(z) traced
 * (generatorForwardPart, or `pre` when a worker computed it beforehand on the
 * same G, batch and z seed; consumed), then ∂L/∂G(z) by tf.grad through D and
 * backwardNet through G. Those are the ops tfjs's single tape over θ_G applies,
 * in the same order, so the gradient is bit for bit the same (steps.spec.ts).
 * The split lets a worker compute G(z) off the round trip; it also skips the
 * tape's per-op bookkeeping, a few percent of a step (wasm, interleaved in one
 * process: mlp2d G 1.03×, mlp G 1.06×).
 *
 * @returns ∂L_G/∂θ_G in G's canonical order, and stats (dReal is NaN)
 */
export async function generatorGradients(
  model: GanModel,
  batch: number,
  zSeed: number,
  opts: StepOptions = {},
  pre?: GeneratorPart,
): Promise<GradientResult> {
  const { spec } = model;
  if (pre && (pre.batch !== batch || pre.zSeed !== zSeed)) {
    pre.dispose();
    throw new DuelError(ErrorCodes.SHAPE_MISMATCH, `G(z) was computed for batch ${pre.batch} and z seed ${pre.zSeed}, the task has ${batch} and ${zSeed}`);
  }
  const loss = opts.loss ?? 'nonsaturating';
  const packs = batch / spec.pack;
  if (!pre) {
    batchSizeOf(batch * dataSize(spec), dataSize(spec), spec.pack);
    const chunks = microBatches(spec, batch, opts.microBatch);
    if (chunks.length > 1) return generatorGradientsInMicroBatches(model, batch, zSeed, loss, topKCount(packs, opts.topK ?? 1), chunks);
  }
  let part: GeneratorPart | null = pre ?? null;
  let out: { value: tf.Scalar; grads: tf.Tensor[] };
  const kept: tf.Tensor[] = [];
  try {
    batchSizeOf(batch * dataSize(spec), dataSize(spec), spec.pack);
    const keep = topKCount(packs, opts.topK ?? 1);
    part ??= generatorForwardPart(model, batch, zSeed);
    const dParams = model.tensors('D');
    const gParams = model.tensors('G');
    // L_G as a function of the fake batch: D is a constant here.
    const lossOn = (fake: tf.Tensor, mask: tf.Tensor | undefined) => {
      const lf = model.discriminate(packSamples(fake, spec.pack), dParams);
      kept.push(tf.keep(tf.mean(tf.sigmoid(lf))));
      return generatorLoss(lf, loss, mask);
    };
    // The top-k mask is a constant of the differentiated function: it comes from
    // a forward pass of its own, so no gradient has to flow through the selection.
    // Takes G(z) as a thunk: without top-k no mask, and no G(z) made for one.
    const maskOf = (fake: () => tf.Tensor) => (keep < packs ? topKMask(model.discriminate(packSamples(fake(), spec.pack), dParams), keep) : undefined);
    const traced = part;
    out = tf.tidy(() => {
      if (traced) {
        const mask = maskOf(() => traced.fake);
        const { value, grad } = tf.valueAndGrad((fake: tf.Tensor) => lossOn(fake, mask))(traced.fake);
        return { value, grads: backwardNet(spec.generator, gParams, traced.trace, grad) };
      }
      const zt = tf.tensor2d(latentBatch(batch, spec.latentDim, zSeed), [batch, spec.latentDim]);
      const mask = maskOf(() => model.generate(zt, gParams));
      return tf.valueAndGrads((...ps: tf.Tensor[]) => lossOn(model.generate(zt, ps), mask))(gParams as tf.Tensor[]);
    });
  } finally {
    part?.dispose();
  }
  const stats = await readStats(out.value, null, kept[0], batch);
  return { grads: await readGrads(out.grads, model.layout.G), stats };
}

/**
 * generatorGradients for a batch run in micro-batches: each one's G(z) through
 * D and back through G (backwardNet for a traceable G, the tape otherwise), its
 * gradient added on the device. Without top-k each micro-batch's mean loss is
 * weighted by its share of the packs. With top-k the mask must span the batch:
 * D's logits on every fake pack come first, a micro-batch at a time and
 * without a tape, then each micro-batch's masked sum is divided by the batch's
 * count of kept packs, so the sums add up to the batch's loss.
 */
async function generatorGradientsInMicroBatches(
  model: GanModel,
  batch: number,
  zSeed: number,
  loss: GanLoss,
  keep: number,
  chunks: readonly MicroBatch[],
): Promise<GradientResult> {
  const { spec } = model;
  const { latentDim: latent, pack } = spec;
  const packs = batch / pack;
  const z = latentBatch(batch, latent, zSeed);
  const zOf = ({ start, size }: MicroBatch) => tf.tensor2d(z.subarray(start * latent, (start + size) * latent), [size, latent]);
  const dParams = model.tensors('D');
  const gParams = model.tensors('G');
  const logitsOf = (fake: tf.Tensor) => model.discriminate(packSamples(fake, pack), dParams);
  const mask =
    keep < packs ? tf.tidy(() => topKMask(tf.concat(chunks.map((c) => tf.tidy(() => logitsOf(model.generate(zOf(c), gParams))))), keep)) : null;
  try {
    const sum = accumulate(
      chunks.map((c) => (): Term => {
        const share = c.size / batch;
        const m = mask ? tf.slice(mask, [c.start / pack, 0], [c.size / pack, 1]) : undefined;
        let mean: tf.Scalar | null = null;
        // With a mask the masked sum is divided by the batch's kept count: already the micro-batch's share.
        const lossOn = (fake: tf.Tensor) => {
          const lf = logitsOf(fake);
          mean = tf.keep(tf.mul(tf.mean(tf.sigmoid(lf)), share) as tf.Scalar);
          return mask ? generatorLoss(lf, loss, m, keep) : scaled((l) => generatorLoss(l, loss), share)(lf);
        };
        if (isTraceable(spec.generator)) {
          const { out, trace } = forwardNetTraced(spec.generator, gParams, zOf(c));
          const { value, grad } = tf.valueAndGrad(lossOn)(out);
          return { value, grads: backwardNet(spec.generator, gParams, trace, grad), mean: mean! };
        }
        const zt = zOf(c);
        const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => lossOn(model.generate(zt, ps)))(gParams as tf.Tensor[]);
        return { value, grads, mean: mean! };
      }),
    );
    const stats = await readStats(sum.value, null, sum.mean, batch);
    return { grads: await readGrads(sum.grads, model.layout.G), stats };
  } finally {
    mask?.dispose();
  }
}

/**
 * ∂term(D(x))/∂θ_D in D's canonical order, the term, and the mean of σ(D(x)).
 * For a D of TRACEABLE layers the backward pass is written out (backwardNet
 * from ∂term/∂logits): the ops of tfjs's single tape over θ_D, in the same
 * order, so the same floats, without the tape's per-op bookkeeping. A D with
 * a minibatch-std layer takes the tape. Call inside tf.tidy.
 */
function discriminatorTerm(
  model: GanModel,
  x: tf.Tensor,
  term: (logits: tf.Tensor) => tf.Scalar,
  dParams: readonly tf.Tensor[],
): { value: tf.Scalar; grads: tf.Tensor[]; mean: tf.Scalar } {
  const net = model.spec.discriminator;
  if (isTraceable(net)) {
    const { out: logits, trace } = forwardNetTraced(net, dParams, x);
    const { value, grad } = tf.valueAndGrad(term)(logits);
    return { value, grads: backwardNet(net, dParams, trace, grad), mean: tf.mean(tf.sigmoid(logits)) as tf.Scalar };
  }
  let mean: tf.Scalar | null = null;
  const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => {
    const logits = model.discriminate(x, ps);
    // Kept: the tape's scope frees whatever its function made but the term.
    mean = tf.keep(tf.mean(tf.sigmoid(logits)) as tf.Scalar);
    return term(logits);
  })(dParams as tf.Tensor[]);
  return { value, grads, mean: mean! };
}

/** How many of `packs` fake packs a top-k share keeps: ⌈share · packs⌉, at least one. */
export function topKCount(packs: number, share: number): number {
  if (!(share > 0 && share <= 1)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `topK must be in (0, 1], got ${share}`);
  return Math.max(1, Math.min(packs, Math.ceil(share * packs - 1e-9)));
}

/**
 * 1 for the `keep` largest logits, 0 elsewhere, [P, 1]. Ties at the threshold
 * are broken by index (the first ones win), so exactly `keep` entries are set.
 */
function topKMask(logits: tf.Tensor, keep: number): tf.Tensor {
  const flat = tf.reshape(logits, [-1]);
  const { indices } = tf.topk(flat, keep, true);
  return tf.reshape(tf.scatterND(tf.reshape(indices, [keep, 1]), tf.ones([keep]), [flat.shape[0]]), logits.shape);
}

function batchSizeOf(length: number, perSample: number, pack: number): number {
  const batch = length / perSample;
  if (!Number.isInteger(batch) || batch <= 0 || batch % pack !== 0) {
    throw new DuelError(
      ErrorCodes.SHAPE_MISMATCH,
      `batch of ${length} values is not a positive multiple of pack=${pack} samples of ${perSample} values`,
    );
  }
  return batch;
}

async function readGrads(grads: tf.Tensor[], layout: TensorSpec[]): Promise<NamedWeights> {
  try {
    const data = await Promise.all(grads.map((g) => g.data() as Promise<Float32Array>));
    return layout.map((s, i) => ({ name: s.name, shape: [...s.shape], data: data[i] }));
  } finally {
    for (const g of grads) g.dispose();
  }
}

async function readStats(
  value: tf.Tensor,
  dReal: tf.Tensor | null,
  dFake: tf.Tensor,
  samples: number,
): Promise<StepStats> {
  try {
    const [l, r, f] = await Promise.all([value.data(), dReal ? dReal.data() : null, dFake.data()]);
    return { loss: l[0], dReal: r ? r[0] : Number.NaN, dFake: f[0], samples };
  } finally {
    value.dispose();
    dReal?.dispose();
    dFake.dispose();
  }
}
