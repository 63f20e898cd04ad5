/** Step counts of the quality runs; README.md states the same numbers. */
export const RING8_STEPS = 6000;
export const GRID25_STEPS = 6000;
export const MNIST_STEPS = 300;
