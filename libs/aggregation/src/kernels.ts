import { DuelError, ErrorCodes, assertLayout, globalNorm, type NamedWeights } from '@duel/util';
import { gradientBuffer } from './gradient-buffers';
import { meanInto } from './mean-kernel';

/**
 * The math of aggregation as pure functions on NamedWeights (Flower keeps the
 * same split: strategies decide, `aggregate.py` computes). Every update in a
 * call must share one layout (names, order, shapes), which is checked; values
 * are assumed finite (strategies screen non-finite updates first). Sums run in
 * float64 and are rounded to float32 once, on the way out, so the result does
 * not depend on how many workers there are or in which order they arrived.
 */

/** Checks `updates` is non-empty and all share the layout of the first (and of `out`, if given). */
function checkUpdates(updates: readonly NamedWeights[], what: string, out?: NamedWeights): void {
  if (updates.length === 0) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `${what}: no updates`);
  const ref = updates[0];
  for (let j = 1; j < updates.length; j++) assertLayout(updates[j], ref, `${what}: update ${j}`);
  if (out) assertLayout(out, ref, `${what}: out`);
}

/**
 * Weighted mean: out = Σ_j w_j·u_j / Σ_j w_j, coordinate by coordinate.
 *
 * @param updates  n updates, each of one layout L
 * @param weights  n finite weights ≥ 0 with a positive sum (e.g. sample counts)
 * @param out      optional buffer of layout L to write into (it may be one of `updates`)
 * @returns `out`, or a buffer of layout L from {@link gradientBuffer} (fresh, or one handed back with releaseGradients)
 */
export function weightedMean(updates: readonly NamedWeights[], weights: readonly number[], out?: NamedWeights): NamedWeights {
  checkUpdates(updates, 'weightedMean', out);
  if (weights.length !== updates.length) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `weightedMean: ${updates.length} updates but ${weights.length} weights`);
  }
  let total = 0;
  for (const w of weights) {
    if (!(Number.isFinite(w) && w >= 0)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `weightedMean: bad weight ${w}`);
    total += w;
  }
  if (!(total > 0)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, 'weightedMean: weights sum to 0');
  const norm = weights.map((w) => w / total);
  const res = out ?? gradientBuffer(updates[0]);
  for (let k = 0; k < res.length; k++) meanInto(res[k].data, updates.map((u) => u[k].data), norm);
  return res;
}

/** Sorts `a[0..n)` ascending; insertion sort, as n (the worker count) is small. */
function sortSmall(a: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) {
    const x = a[i];
    let j = i - 1;
    while (j >= 0 && a[j] > x) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = x;
  }
}

/**
 * Applies `reduce` to the sorted values of each coordinate across updates.
 * One scratch array per call; the reducer sees `sorted[0..n)`.
 */
function reduceSortedCoordinates(
  updates: readonly NamedWeights[],
  out: NamedWeights | undefined,
  what: string,
  reduce: (sorted: Float64Array, n: number) => number,
): NamedWeights {
  checkUpdates(updates, what, out);
  const n = updates.length;
  const res = out ?? gradientBuffer(updates[0]);
  const scratch = new Float64Array(n);
  for (let k = 0; k < res.length; k++) {
    const src = updates.map((u) => u[k].data);
    const dst = res[k].data;
    for (let i = 0; i < dst.length; i++) {
      for (let j = 0; j < n; j++) scratch[j] = src[j][i];
      if (n > 32) scratch.sort();
      else sortSmall(scratch, n);
      dst[i] = reduce(scratch, n);
    }
  }
  return res;
}

/**
 * Coordinate-wise median (Yin et al., 2018, "Byzantine-robust distributed
 * learning: towards optimal statistical rates"). With an even count it is the
 * mean of the two middle values.
 *
 * @param updates  n ≥ 1 updates of one layout L
 * @param out      optional buffer of layout L
 */
export function coordinateMedian(updates: readonly NamedWeights[], out?: NamedWeights): NamedWeights {
  return reduceSortedCoordinates(updates, out, 'coordinateMedian', (s, n) => {
    const h = n >> 1;
    return n % 2 === 1 ? s[h] : (s[h - 1] + s[h]) / 2;
  });
}

/**
 * How many values {@link trimmedMean} drops from each end: ⌊β·n⌋, as Yin et
 * al.'s β-trimmed mean, scipy's `trim_mean` and Flower's FedTrimmedAvg count
 * them, but at least one for any β > 0, and capped so that at least one value
 * is left. ⌊β·n⌋ loses no robustness against ⌈β·n⌉: a count f of bad updates is
 * an integer, so f ≤ β·n exactly when f ≤ ⌊β·n⌋. ⌈β·n⌉ only dropped honest
 * values: with β 0.3, a round of 7 updates (3 of 10 refused by a screen) kept
 * a single value per coordinate, the median, instead of 3.
 */
export function trimCount(n: number, beta: number): number {
  if (!(beta >= 0 && beta < 0.5)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `trimmed mean: beta must be in [0, 0.5), got ${beta}`);
  if (beta === 0) return 0;
  // + 1e-9: β·n that should be an integer can land just below it (0.29 · 100 is 28.999999999999996).
  return Math.min(Math.max(1, Math.floor(beta * n + 1e-9)), Math.floor((n - 1) / 2));
}

/**
 * Coordinate-wise β-trimmed mean (Yin et al., 2018): per coordinate, drop the
 * {@link trimCount} largest and smallest values and average the rest.
 *
 * @param updates  n ≥ 1 updates of one layout L
 * @param beta     fraction trimmed from each end, in [0, 0.5)
 * @param out      optional buffer of layout L
 */
export function trimmedMean(updates: readonly NamedWeights[], beta: number, out?: NamedWeights): NamedWeights {
  const b = trimCount(updates.length, beta);
  return reduceSortedCoordinates(updates, out, 'trimmedMean', (s, n) => {
    let sum = 0;
    for (let j = b; j < n - b; j++) sum += s[j];
    return sum / (n - 2 * b);
  });
}

/** ws ← s·ws, in place. Returns `ws`. */
export function scaleInPlace(ws: NamedWeights, s: number): NamedWeights {
  for (const w of ws) {
    const d = w.data;
    for (let i = 0; i < d.length; i++) d[i] *= s;
  }
  return ws;
}

/** target ← target + s·src, in place (same layout). Returns `target`. */
export function addScaledInPlace(target: NamedWeights, src: NamedWeights, s: number): NamedWeights {
  assertLayout(src, target, 'addScaledInPlace: src');
  for (let k = 0; k < target.length; k++) {
    const t = target[k].data;
    const d = src[k].data;
    for (let i = 0; i < t.length; i++) t[i] += s * d[i];
  }
  return target;
}

/**
 * Scales `ws` in place so its global L2 norm is at most `maxNorm` (as in
 * Pascanu et al., 2013; used as norm bounding against poisoned updates by Sun
 * et al., 2019). Returns the norm before clipping and the factor applied (≤ 1).
 */
export function clipByGlobalNorm(ws: NamedWeights, maxNorm: number): { norm: number; scale: number } {
  if (!(maxNorm >= 0 && Number.isFinite(maxNorm))) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `clipByGlobalNorm: maxNorm must be finite and >= 0, got ${maxNorm}`);
  }
  const norm = globalNorm(ws);
  if (norm <= maxNorm) return { norm, scale: 1 };
  const scale = maxNorm / norm;
  scaleInPlace(ws, scale);
  return { norm, scale };
}

/**
 * Pairwise squared Euclidean distances between updates, accumulated in
 * float64 from the differences (not ‖a‖²+‖b‖²−2a·b, which cancels badly when
 * honest updates are close together).
 *
 * @returns Float64Array [n, n], row-major, symmetric, zero diagonal
 */
export function pairwiseSquaredDistances(updates: readonly NamedWeights[]): Float64Array {
  checkUpdates(updates, 'pairwiseSquaredDistances');
  const n = updates.length;
  const dist = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      let s = 0;
      for (let k = 0; k < updates[a].length; k++) {
        const x = updates[a][k].data;
        const y = updates[b][k].data;
        for (let i = 0; i < x.length; i++) {
          const d = x[i] - y[i];
          s += d * d;
        }
      }
      dist[a * n + b] = s;
      dist[b * n + a] = s;
    }
  }
  return dist;
}

/**
 * Krum scores (Blanchard et al., 2017): for each update, the sum of its squared
 * distances to its `neighbours` nearest other updates. Lower is more central.
 *
 * @param dist        [n, n] from {@link pairwiseSquaredDistances}
 * @param neighbours  how many nearest others to sum, in [0, n−1] (Krum uses n − f − 2)
 * @returns Float64Array [n]
 */
export function krumScores(dist: Float64Array, n: number, neighbours: number): Float64Array {
  if (dist.length !== n * n) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `krumScores: expected ${n}×${n} distances, got ${dist.length}`);
  if (!(Number.isInteger(neighbours) && neighbours >= 0 && neighbours <= Math.max(0, n - 1))) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `krumScores: neighbours must be an integer in [0, ${n - 1}], got ${neighbours}`);
  }
  const scores = new Float64Array(n);
  const row = new Float64Array(Math.max(0, n - 1));
  for (let a = 0; a < n; a++) {
    let r = 0;
    for (let b = 0; b < n; b++) if (b !== a) row[r++] = dist[a * n + b];
    row.sort();
    let s = 0;
    for (let j = 0; j < neighbours; j++) s += row[j];
    scores[a] = s;
  }
  return scores;
}

/** Median of the finite values; NaN when there are none. */
export function medianOf(values: readonly number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const h = v.length >> 1;
  return v.length % 2 === 1 ? v[h] : (v[h - 1] + v[h]) / 2;
}
