import type { Dataset } from '@duel/datasets';
import { classifierScore, quality2d, type Quality2d } from '@duel/eval';

/** Samples drawn for the 2-D quality report (SYSTEM.md: 2,500). */
export const QUALITY_SAMPLES_2D = 2500;
/** Fixed seed for evaluation draws, so reports are comparable across runs. */
export const EVAL_SEED = 0x5eed;

export type QualityReport = ({ kind: '2d' } & Quality2d) | { kind: 'image'; classifierScore: number; n: number };

/** Extra image metrics live in @duel/eval; the 2-D report needs the mixture's centres. */
export interface Sampler {
  sample(n: number, seed: number): Promise<Float32Array>;
}

/**
 * The run's quality on its dataset: the 2-D report (modes, modesBalanced, hq,
 * reverseKL) on 2,500 samples for mixtures, or the classifier score for MNIST-like
 * image data.
 */
export async function evaluateQuality(g: Sampler, dataset: Dataset, imageSamples = 1000): Promise<QualityReport> {
  if (dataset.kind === '2d' && 'centres' in dataset) {
    const mixture = dataset as Dataset & { centres: readonly (readonly [number, number])[]; sigma: number };
    const points = await g.sample(QUALITY_SAMPLES_2D, EVAL_SEED);
    return { kind: '2d', ...quality2d(points, mixture.centres, mixture.sigma) };
  }
  const images = await g.sample(imageSamples, EVAL_SEED);
  return { kind: 'image', classifierScore: await classifierScore(images), n: imageSamples };
}
