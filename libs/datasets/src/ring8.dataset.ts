import { createGaussianMixture, type MixtureDataset, type Point2 } from './gaussian-mixture';

/** PacGAN's 2DRing: 8 centres on the unit circle at angles 2πk/8. */
export const RING8_CENTRES: readonly Point2[] = Array.from(
  { length: 8 },
  (_, k) => [Math.cos((2 * Math.PI * k) / 8), Math.sin((2 * Math.PI * k) / 8)] as const,
);

/** σ per axis of every ring8 component (PacGAN, Lin et al. 2018, §5.1). */
export const RING8_SIGMA = 0.01;

/** 8 Gaussians on the unit circle, σ = 0.01: samples are [n, 2]. */
export const ring8: MixtureDataset = createGaussianMixture('ring8', RING8_CENTRES, RING8_SIGMA);
