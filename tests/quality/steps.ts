/** Step counts of the quality runs; README.md states the same numbers. ring8 uses the run-config default. */
export const RING8_STEPS = 8000;
export const GRID25_STEPS = 8000;
export const MNIST_STEPS = 300;
