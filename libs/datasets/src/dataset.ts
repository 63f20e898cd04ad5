import type { Rng } from '@duel/util';

/**
 * A source of training samples. Every batch is a flat Float32Array laid out
 * row-major as [n, ...shape], so it can go straight into `tf.tensor(data, [n, ...shape])`
 * or onto the wire without reshaping.
 */
export interface Dataset {
  /** Registry name, e.g. 'ring8', 'mnist', 'folder:/data/digits'. */
  readonly name: string;
  /** '2d' = points in the plane; 'image' = H×W×C images in [-1, 1]. */
  readonly kind: '2d' | 'image';
  /** Shape of one sample: [2] for 2-D mixtures, [28, 28, 1] for MNIST. */
  readonly shape: readonly number[];
  /** Number of stored samples, or null for a generative (infinite) source. */
  readonly size: number | null;
  /**
   * n samples drawn with `rng`: fresh draws for a generative source, uniform
   * with replacement for a finite one. Returns [n, ...shape].
   */
  batch(n: number, rng: Rng): Float32Array;
}

/** A dataset of stored samples that can be read by index. */
export interface FiniteDataset extends Dataset {
  readonly size: number;
  /** Samples at `indices`, returned as [indices.length, ...shape]. */
  gather(indices: ArrayLike<number>): Float32Array;
  /** Class label per sample (0..9 for MNIST), when the source has labels. */
  readonly labels?: Uint8Array;
}

export function isFiniteDataset(d: Dataset): d is FiniteDataset {
  return d.size !== null && typeof (d as FiniteDataset).gather === 'function';
}

/** Number of floats in one sample. */
export function sampleSize(d: Pick<Dataset, 'shape'>): number {
  let n = 1;
  for (const s of d.shape) n *= s;
  return n;
}
