import { adamStep, adoptWeights, createAdamState, type AdamState } from '@duel/aggregation';
import { initWeights, type GanLayout, type Net } from '@duel/gan';
import { cloneWeights, deriveSeed, type NamedWeights } from '@duel/util';
import { lrScale, type RunConfig } from './run-config';

/**
 * The parameter server's state: weights, Adam moments, versions and the EMA
 * of G. The local trainer and the coordinator both change it only through
 * `applyGradients`, so they follow the same trajectory for the same gradients.
 */
export interface TrainingState {
  /** Completed steps (G-updates). */
  step: number;
  /** Number of updates applied to each net: the weights' version. */
  versions: Record<Net, number>;
  weights: Record<Net, NamedWeights>;
  adam: Record<Net, AdamState>;
  /** EMA of G's weights, or null when cfg.gEma is 0. */
  gEma: NamedWeights | null;
}

const INIT_TAG = 0x1d17;

export function initTrainingState(cfg: RunConfig, layout: GanLayout): TrainingState {
  const adam = { G: createAdamState(layout.G), D: createAdamState(layout.D) };
  // The weights live beside their Adam moments, so a step copies only the gradient into the kernel's memory.
  const G = adoptWeights(adam.G, initWeights(layout.G, deriveSeed(INIT_TAG, cfg.seed, 0)));
  const D = adoptWeights(adam.D, initWeights(layout.D, deriveSeed(INIT_TAG, cfg.seed, 1)));
  return {
    step: 0,
    versions: { G: 0, D: 0 },
    weights: { G, D },
    adam,
    gEma: cfg.gEma > 0 ? cloneWeights(G) : null,
  };
}

/**
 * One optimizer update of `net` with aggregated gradients, at training step
 * `step` (1-based; sets the learning-rate schedule). `lrMultiplier` discounts a
 * stale async update (Adam divides out any scale on the gradient itself, so the
 * discount must act on the step size). Bumps the net's version;
 * a G-update also advances the EMA and completes the step.
 */
export function applyGradients(state: TrainingState, cfg: RunConfig, net: Net, grads: NamedWeights, step: number, lrMultiplier = 1): void {
  const lr = (net === 'G' ? cfg.lrG : cfg.lrD) * lrScale(cfg, step) * lrMultiplier;
  adamStep(state.weights[net], grads, state.adam[net], { lr, beta1: cfg.beta1, beta2: cfg.beta2 });
  state.versions[net]++;
  if (net === 'G') {
    if (state.gEma) emaUpdate(state.gEma, state.weights.G, cfg.gEma);
    // Async mode applies G-updates out of order (step 20's may land before a
    // slightly stale step 19's): the completed step is the furthest one applied.
    state.step = Math.max(state.step, step);
  }
}

/** e ← β·e + (1−β)·w, in place. */
export function emaUpdate(ema: NamedWeights, w: NamedWeights, beta: number): void {
  for (let i = 0; i < ema.length; i++) {
    const e = ema[i].data;
    const d = w[i].data;
    for (let j = 0; j < e.length; j++) e[j] = beta * e[j] + (1 - beta) * d[j];
  }
}

/** The G weights to sample from: the EMA when enabled. */
export function samplingWeights(state: TrainingState): NamedWeights {
  return state.gEma ?? state.weights.G;
}
