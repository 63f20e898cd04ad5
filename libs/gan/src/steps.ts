import { DuelError, ErrorCodes, type NamedWeights, type TensorSpec } from '@duel/util';
import { discriminatorLossTerms, generatorLoss } from './losses';
import { dataSize, latentBatch, type GanModel } from './model';
import { packSamples } from './network';
import type { GanLoss } from './spec';
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
  let dReal: tf.Scalar | null = null;
  const { value, grads } = tf.tidy(() => {
    const x = packSamples(tf.tensor(real, [batch, ...spec.dataShape]), spec.pack);
    const f = (...ps: tf.Tensor[]) => {
      const logits = model.discriminate(x, ps);
      dReal = tf.keep(tf.mean(tf.sigmoid(logits))) as tf.Scalar;
      return terms.real(logits);
    };
    return tf.valueAndGrads(f)(dParams as tf.Tensor[]);
  });
  const tensors = [value, dReal!, ...grads];
  return { batch, grads, value, dReal: dReal!, ms: performance.now() - t0, dispose: () => tf.dispose(tensors) };
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

  let dFake: tf.Scalar | null = null;
  try {
    const { value, grads } = tf.tidy(() => {
      const fake = packSamples(model.generate(tf.tensor2d(z, [batch, spec.latentDim]), gParams), spec.pack);
      const f = (...ps: tf.Tensor[]) => {
        const logits = model.discriminate(fake, ps);
        dFake = tf.keep(tf.mean(tf.sigmoid(logits))) as tf.Scalar;
        return terms.fake(logits);
      };
      const fakePart = tf.valueAndGrads(f)(dParams as tf.Tensor[]);
      return { value: tf.add(realPart.value, fakePart.value) as tf.Scalar, grads: fakePart.grads.map((g, i) => tf.add(realPart.grads[i], g)) };
    });
    const stats = await readStats(value, realPart.dReal, dFake!, 2 * batch);
    return { grads: await readGrads(grads, model.layout.D), stats };
  } finally {
    realPart.dispose();
  }
}

/**
 * One generator gradient: L_G on G(z), z ~ N(0, I) [batch, latentDim] from
 * Rng(zSeed), through a fixed D.
 *
 * @returns ∂L_G/∂θ_G in G's canonical order, and stats (dReal is NaN)
 */
export async function generatorGradients(
  model: GanModel,
  batch: number,
  zSeed: number,
  opts: StepOptions = {},
): Promise<GradientResult> {
  const { spec } = model;
  batchSizeOf(batch * dataSize(spec), dataSize(spec), spec.pack);
  const loss = opts.loss ?? 'nonsaturating';
  const packs = batch / spec.pack;
  const keep = topKCount(packs, opts.topK ?? 1);
  const z = latentBatch(batch, spec.latentDim, zSeed);
  const dParams = model.tensors('D');
  const gParams = model.tensors('G');

  const kept: tf.Tensor[] = [];
  const { value, grads } = tf.tidy(() => {
    const zt = tf.tensor2d(z, [batch, spec.latentDim]);
    // The top-k mask is a constant of the differentiated function: it comes from
    // a forward pass of its own, so no gradient has to flow through the selection.
    const mask = keep < packs ? topKMask(model.discriminate(packSamples(model.generate(zt, gParams), spec.pack), dParams), keep) : undefined;
    const f = (...ps: tf.Tensor[]) => {
      const lf = model.discriminate(packSamples(model.generate(zt, ps), spec.pack), dParams);
      kept.push(tf.keep(tf.mean(tf.sigmoid(lf))));
      return generatorLoss(lf, loss, mask);
    };
    return tf.valueAndGrads(f)(gParams as tf.Tensor[]);
  });
  const stats = await readStats(value, null, kept[0], batch);
  return { grads: await readGrads(grads, model.layout.G), stats };
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
