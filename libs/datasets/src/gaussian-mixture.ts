import { DuelError, ErrorCodes, type Rng } from '@duel/util';
import type { Dataset } from './dataset';

/** A centre of a 2-D mixture component. */
export type Point2 = readonly [number, number];

/** A generative 2-D dataset: an equal-weight mixture of isotropic Gaussians. */
export interface MixtureDataset extends Dataset {
  readonly kind: '2d';
  readonly size: null;
  readonly centres: readonly Point2[];
  /** Standard deviation per axis of every component. */
  readonly sigma: number;
}

/**
 * Equal-weight mixture of isotropic Gaussians N(c_k, σ²I), the synthetic
 * mode-collapse benchmarks of Srivastava et al. (VEEGAN, 2017) and Lin et al.
 * (PacGAN, 2018). `batch` picks a component uniformly, then adds σ·N(0, 1)
 * per axis; it draws 3 numbers per point from `rng` (component + 2 normals).
 */
export function createGaussianMixture(name: string, centres: readonly Point2[], sigma: number): MixtureDataset {
  if (centres.length === 0 || !(sigma > 0)) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `${name}: need at least one centre and sigma > 0`);
  }
  return {
    name,
    kind: '2d',
    shape: [2],
    size: null,
    centres,
    sigma,
    batch(n: number, rng: Rng): Float32Array {
      const out = new Float32Array(n * 2);
      for (let i = 0; i < n; i++) {
        const c = centres[rng.int(centres.length)];
        out[2 * i] = c[0] + sigma * rng.normal();
        out[2 * i + 1] = c[1] + sigma * rng.normal();
      }
      return out;
    },
  };
}
