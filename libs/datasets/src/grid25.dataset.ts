import { createGaussianMixture, type MixtureDataset, type Point2 } from './gaussian-mixture';

const AXIS = [-4, -2, 0, 2, 4] as const;

/** PacGAN's 2DGrid: centres {-4, -2, 0, 2, 4}², row-major in x then y. */
export const GRID25_CENTRES: readonly Point2[] = AXIS.flatMap((x) => AXIS.map((y) => [x, y] as const));

/** σ per axis of every grid25 component (PacGAN, Lin et al. 2018, §5.1). */
export const GRID25_SIGMA = 0.05;

/** 25 Gaussians on a 5×5 grid with spacing 2, σ = 0.05: samples are [n, 2]. */
export const grid25: MixtureDataset = createGaussianMixture('grid25', GRID25_CENTRES, GRID25_SIGMA);
