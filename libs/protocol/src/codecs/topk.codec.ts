/**
 * top-k sparsification: send only the k entries of largest magnitude, as
 * (index, value) pairs, k = ⌈ratio·n⌉ per tensor (Aji & Heafield 2017; Stich
 * et al. 2018, "Sparsified SGD with memory", prove convergence with error
 * feedback). Kept values are exact float32; the dropped ones are the error,
 * which error feedback (the worker's residual) sends later. Bytes: 8 per kept
 * entry (u32 index + float32 value), so ratio r costs 2r of float32.
 */

export const DEFAULT_TOPK_RATIO = 0.1;

export interface TopkEncoded {
  /** Strictly ascending indices into the dense tensor. */
  indices: Uint32Array;
  values: Float32Array;
}

/** Entries kept for a tensor of n values: ⌈ratio·n⌉, at least 1 (0 for an empty tensor), at most n. */
export function topkCount(n: number, ratio: number): number {
  if (n === 0) return 0;
  return Math.min(n, Math.max(1, Math.ceil(ratio * n - 1e-9)));
}

/**
 * The k entries of largest |value|, in index order. Ties at the threshold go to
 * the lower indices, so the result is deterministic. NaN counts as largest.
 * `indices` and `values` may be views into one buffer (the wire payload).
 */
export function encodeTopk(values: Float32Array, k: number, out?: TopkEncoded): TopkEncoded {
  const n = values.length;
  const kk = Math.max(0, Math.min(k, n));
  const res = out ?? { indices: new Uint32Array(kk), values: new Float32Array(kk) };
  if (kk === 0) return res;
  const threshold = kthLargestMagnitude(values, kk);
  // Everything strictly above the threshold, then ties in index order until k.
  let above = 0;
  for (let i = 0; i < n; i++) if (mag(values[i]) > threshold) above++;
  let ties = kk - above;
  let j = 0;
  for (let i = 0; i < n && j < kk; i++) {
    const a = mag(values[i]);
    if (a > threshold || (a === threshold && ties-- > 0)) {
      res.indices[j] = i;
      res.values[j] = values[i];
      j++;
    }
  }
  return res;
}

function mag(x: number): number {
  return x === x ? Math.abs(x) : Infinity;
}

/** The k-th largest magnitude (1-based), by quickselect on a scratch copy: O(n) expected. */
function kthLargestMagnitude(values: Float32Array, k: number): number {
  const a = new Float32Array(values.length);
  for (let i = 0; i < a.length; i++) a[i] = mag(values[i]);
  let lo = 0;
  let hi = a.length - 1;
  const target = a.length - k; // index of the k-th largest in ascending order
  while (lo < hi) {
    // Median of three as the pivot: deterministic, no Math.random.
    const mid = (lo + hi) >>> 1;
    const p = median3(a[lo], a[mid], a[hi]);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < p) i++;
      while (a[j] > p) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return a[target];
}

function median3(x: number, y: number, z: number): number {
  return Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
}

/** Writes the dense tensor: zeros, then the kept values at their indices. Indices must be checked first. */
export function decodeTopk(indices: Uint32Array, values: Float32Array, out: Float32Array): Float32Array {
  out.fill(0);
  for (let j = 0; j < indices.length; j++) out[indices[j]] = values[j];
  return out;
}

/** Null when indices are strictly ascending and < n (so no duplicates), else why not. */
export function checkTopkIndices(indices: Uint32Array, n: number): string | null {
  let prev = -1;
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    if (i >= n) return `index ${i} at position ${j} is out of range [0, ${n})`;
    if (i <= prev) return `indices not strictly ascending at position ${j} (${prev}, ${i})`;
    prev = i;
  }
  return null;
}
