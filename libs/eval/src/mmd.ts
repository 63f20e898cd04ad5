import { DuelError, ErrorCodes } from '@duel/util';

/** At most this many points per set enter the median heuristic, to keep it O(m²) small. */
const MEDIAN_POINTS = 500;

function sqDist(x: ArrayLike<number>, i: number, y: ArrayLike<number>, j: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) {
    const t = x[i * d + k] - y[j * d + k];
    s += t * t;
  }
  return s;
}

function rows(x: ArrayLike<number>, d: number, what: string): number {
  const n = x.length / d;
  if (!Number.isInteger(n) || n < 2) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `MMD: ${what} needs at least 2 rows of dimension ${d}, got ${x.length} values`);
  }
  return n;
}

/**
 * The median heuristic bandwidth (Gretton et al. 2012, §8): the median Euclidean
 * distance between distinct points of the pooled sample. Uses the first
 * 500 rows of each set, so it is deterministic and O(10⁶).
 */
export function medianBandwidth(x: ArrayLike<number>, y: ArrayLike<number>, d: number): number {
  const nx = Math.min(rows(x, d, 'x'), MEDIAN_POINTS);
  const ny = Math.min(rows(y, d, 'y'), MEDIAN_POINTS);
  const pool = new Float64Array((nx + ny) * d);
  for (let i = 0; i < nx * d; i++) pool[i] = x[i];
  for (let i = 0; i < ny * d; i++) pool[nx * d + i] = y[i];
  const m = nx + ny;
  const dists = new Float64Array((m * (m - 1)) / 2);
  let at = 0;
  for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) dists[at++] = Math.sqrt(sqDist(pool, i, pool, j, d));
  dists.sort();
  const mid = dists.length >> 1;
  const med = dists.length % 2 ? dists[mid] : (dists[mid - 1] + dists[mid]) / 2;
  // All points equal: any bandwidth gives MMD 0; 1 avoids dividing by 0.
  return med > 0 ? med : 1;
}

/**
 * Unbiased estimate of the squared maximum mean discrepancy (Gretton et al. 2012,
 * eq. 3) with the Gaussian kernel k(a, b) = exp(−|a − b|² / (2h²)):
 *
 *   MMD²ᵤ = 1/(m(m−1)) Σ_{i≠j} k(xᵢ, xⱼ) + 1/(n(n−1)) Σ_{i≠j} k(yᵢ, yⱼ) − 2/(mn) Σ_{i,j} k(xᵢ, yⱼ)
 *
 * It can be slightly negative when the two distributions are equal. O((m+n)²·d):
 * a few thousand rows per set is the practical range.
 *
 * @param x [m, d] and y [n, d], row-major, m, n ≥ 2
 * @param bandwidth h; default the median heuristic (medianBandwidth)
 */
export function mmd2(x: ArrayLike<number>, y: ArrayLike<number>, d: number, bandwidth?: number): number {
  const m = rows(x, d, 'x');
  const n = rows(y, d, 'y');
  const h = bandwidth ?? medianBandwidth(x, y, d);
  if (!(h > 0)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `MMD: bandwidth must be > 0, got ${h}`);
  const gamma = 1 / (2 * h * h);
  let kxx = 0;
  for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) kxx += Math.exp(-gamma * sqDist(x, i, x, j, d));
  let kyy = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) kyy += Math.exp(-gamma * sqDist(y, i, y, j, d));
  let kxy = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) kxy += Math.exp(-gamma * sqDist(x, i, y, j, d));
  return (2 * kxx) / (m * (m - 1)) + (2 * kyy) / (n * (n - 1)) - (2 * kxy) / (m * n);
}
