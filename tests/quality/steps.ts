/** Step counts of the quality runs; README.md states the same numbers. ring8 uses the run-config default. */
export const RING8_STEPS = 8000;
export const GRID25_STEPS = 8000;
export const MNIST_STEPS = 300;
/** Per-seed ring8 HQ floor the CI guard asserts (target 0.97; measured 0.965–0.982 at 8000 steps). */
export const RING8_HQ_GUARD = 0.95;
