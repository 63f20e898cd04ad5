import { DuelError, ErrorCodes, zerosLike, type NamedWeights } from '@duel/util';
import { scaleInPlace, weightedMean } from './kernels';

/** How an update computed on old weights is discounted. */
export type StalenessMode = 'inverse' | 'none';

export const STALENESS_MODES: readonly StalenessMode[] = ['inverse', 'none'];

/** Returns `mode` if it is a known staleness mode; throws BAD_ARGUMENT listing the modes otherwise. */
export function assertStalenessMode(mode: unknown): StalenessMode {
  if (!STALENESS_MODES.includes(mode as StalenessMode)) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `unknown staleness mode "${String(mode)}"; known: ${STALENESS_MODES.join(', ')}`);
  }
  return mode as StalenessMode;
}

/**
 * The factor an update's contribution is multiplied by, given its staleness τ
 * (how many versions the weights moved between sending the task and applying
 * the result; 0 for a synchronous round).
 *
 * - `'inverse'`: 1/(1+τ). Zhang, Gupta, Lian & Liu (2016), "Staleness-aware
 *   async-SGD for distributed deep learning", divide the learning rate of each
 *   gradient by its staleness; with τ counted from 0 here that is 1/(1+τ), so a
 *   fresh gradient keeps its full weight and τ = 1 halves it.
 * - `'none'`: 1 (plain asynchronous SGD).
 *
 * @throws DuelError BAD_ARGUMENT when τ is negative or not finite, or the mode is unknown
 */
export function stalenessScale(staleness: number, mode: StalenessMode): number {
  if (!(Number.isFinite(staleness) && staleness >= 0)) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `staleness must be finite and >= 0, got ${staleness}`);
  }
  return assertStalenessMode(mode) === 'inverse' ? 1 / (1 + staleness) : 1;
}

/** What {@link sampleWeightedMean} needs of an update. */
export interface WeightedGrads {
  grads: NamedWeights;
  samples: number;
  staleness?: number;
}

/**
 * FedAvg's sample-weighted mean (McMahan et al., 2017) with each update also
 * scaled by its staleness factor a_i and an optional extra factor c_i:
 *
 *   Σ_i s_i·a_i·c_i·g_i / Σ_i s_i
 *
 * The denominator is the plain sample count on purpose: a round made only of
 * stale updates moves the weights less, as in Zhang et al. (2016), instead of
 * being renormalised back to full size. With τ = 0 and c = 1 this is exactly
 * the FedAvg mean.
 *
 * A single update whose factor comes to 1 (a synchronous round of one worker
 * or one shard, fresh and unclipped) is its own mean: its `grads` come back
 * as they are, not copied. The caller only reads the aggregate (the optimizer
 * does) and must not write into it, as it is the update's memory (for a
 * decoded result, a view of the received frame). The copy was 11% of the
 * coordinator's busy time in the one-worker `mlp` ingest (BENCHMARKS.md §3);
 * without it the ratio barely moved (0.37 → 0.38), as the next pass over the
 * received bytes pays their trip from memory instead. It also keeps a −0 as
 * −0, where the float64 sum of the general case gives +0; Adam treats the two
 * alike.
 *
 * @param updates  n ≥ 1 updates of one layout L, samples > 0
 * @param factors  optional c_i ∈ [0, 1] per update (e.g. a clipping factor)
 * @returns a buffer of layout L from the kernels, or `updates[0].grads` itself in the case above
 */
export function sampleWeightedMean(updates: readonly WeightedGrads[], mode: StalenessMode, factors?: readonly number[]): NamedWeights {
  if (updates.length === 0) throw new DuelError(ErrorCodes.BAD_ARGUMENT, 'sampleWeightedMean: no updates');
  let samples = 0;
  let total = 0;
  const weights = updates.map((u, i) => {
    const w = u.samples * stalenessScale(u.staleness ?? 0, mode) * (factors ? factors[i] : 1);
    samples += u.samples;
    total += w;
    return w;
  });
  if (!(total > 0)) return zerosLike(updates[0].grads);
  if (updates.length === 1 && total === samples) return updates[0].grads;
  const out = weightedMean(
    updates.map((u) => u.grads),
    weights,
  );
  const damping = total / samples;
  return damping === 1 ? out : scaleInPlace(out, damping);
}
