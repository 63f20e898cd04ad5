import { assertLayout, Rng, sizeOf, type NamedWeights } from '@duel/util';
import { forwardNet } from './network';
import { ganLayout, type GanLayout, type GanSpec, type Net } from './spec';
import { tf } from './tf';

/**
 * A GAN's parameters on the current tfjs backend: G and D as plain tensors in
 * canonical order. The step functions differentiate with respect to them with
 * tf.grads, so no tfjs Variables (and no global variable names) are involved
 * and many models can live side by side.
 */
export class GanModel {
  readonly layout: GanLayout;
  private params: Record<Net, tf.Tensor[]> = { G: [], D: [] };

  constructor(readonly spec: GanSpec) {
    this.layout = ganLayout(spec);
  }

  /** Uploads weights (checked against the layout) and frees the previous ones. */
  setWeights(net: Net, weights: NamedWeights): void {
    assertLayout(weights, this.layout[net], `${net} weights`);
    const next = weights.map((w) => tf.tensor(w.data, w.shape, 'float32'));
    for (const t of this.params[net]) t.dispose();
    this.params[net] = next;
  }

  hasWeights(net: Net): boolean {
    return this.params[net].length === this.layout[net].length;
  }

  /** The live parameter tensors (owned by the model; do not dispose). */
  tensors(net: Net): readonly tf.Tensor[] {
    if (!this.hasWeights(net)) throw new Error(`GanModel: ${net} weights not set`);
    return this.params[net];
  }

  /** @param z [B, latentDim] → [B, ...dataShape] */
  generate(z: tf.Tensor, gParams: readonly tf.Tensor[] = this.tensors('G')): tf.Tensor {
    return forwardNet(this.spec.generator, gParams, z);
  }

  /** @param packed [B/pack, ...packedShape] → logits [B/pack, 1] */
  discriminate(packed: tf.Tensor, dParams: readonly tf.Tensor[] = this.tensors('D')): tf.Tensor {
    return forwardNet(this.spec.discriminator, dParams, packed);
  }

  /** N samples from G with z ~ N(0, I) drawn from Rng(seed); flat [N, ...dataShape]. */
  async sample(n: number, seed: number): Promise<Float32Array> {
    const z = latentBatch(n, this.spec.latentDim, seed);
    const out = tf.tidy(() => this.generate(tf.tensor2d(z, [n, this.spec.latentDim])));
    const data = (await out.data()) as Float32Array;
    out.dispose();
    return data;
  }

  dispose(): void {
    for (const net of ['G', 'D'] as const) {
      for (const t of this.params[net]) t.dispose();
      this.params[net] = [];
    }
  }
}

/** z ~ N(0, I), [n, latentDim] row-major, drawn from Rng(seed): the same on every backend. */
export function latentBatch(n: number, latentDim: number, seed: number): Float32Array {
  return new Rng(seed).fillNormal(new Float32Array(n * latentDim));
}

export function dataSize(spec: GanSpec): number {
  return sizeOf(spec.dataShape);
}
