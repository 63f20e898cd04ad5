/** Step counts of the quality runs; README.md states the same numbers. ring8 uses the run-config default. */
export const RING8_STEPS = 8000;
export const GRID25_STEPS = 8000;
export const MNIST_STEPS = 300;
/** Per-seed ring8 HQ floor the CI guard asserts (target 0.97; measured 0.965–0.982 at 8000 steps). */
export const RING8_HQ_GUARD = 0.95;

/**
 * The Byzantine test (byzantine.test.ts): 10 workers, 3 attackers (30%), 500
 * steps, the most this 2-core machine fits for two 11-process trainings. At 500
 * steps no run has precise samples yet (a clean `duel local --shards 10` has
 * hq 0.004, 6 modes by the HQ definition), so the bar is mode coverage: reverse
 * KL of the nearest-centre histogram. Measured (seed 1, 500 steps): clean
 * 0.003, robust under attack 0.017, plain mean under attack 0.264. The bar is
 * 0.05; the mean must be at least 2× above it. ALIE's z is z_max(n = 10,
 * f = 3) of Baruch et al. 2019.
 */
export const BYZANTINE = {
  workers: 10,
  attackers: 3,
  steps: 500,
  seed: 1,
  alieZ: 0.524,
  robust: 'trimmed-mean:beta=0.3:screen=10',
  bar: { reverseKL: 0.05 },
} as const;
