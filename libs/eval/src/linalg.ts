import { DuelError, ErrorCodes } from '@duel/util';

/** A d×d matrix, row-major, float64. */
export interface SquareMatrix {
  d: number;
  data: Float64Array;
}

/** Mean [d] and unbiased covariance [d, d] of n rows of x [n, d]. */
export function meanAndCovariance(x: ArrayLike<number>, d: number): { n: number; mean: Float64Array; cov: SquareMatrix } {
  const n = x.length / d;
  if (!Number.isInteger(n) || n < 2) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `need at least 2 rows of dimension ${d}, got ${x.length} values`);
  }
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = x[i * d + j] - mean[j];
    for (let a = 0; a < d; a++) {
      const ra = row[a];
      if (ra === 0) continue;
      for (let b = a; b < d; b++) cov[a * d + b] += ra * row[b];
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = cov[a * d + b] / (n - 1);
      cov[a * d + b] = v;
      cov[b * d + a] = v;
    }
  }
  return { n, mean, cov: { d, data: cov } };
}

/**
 * Eigendecomposition of a symmetric matrix by cyclic Jacobi rotations (Golub & Van
 * Loan, Matrix Computations §8.5): A = V diag(λ) Vᵀ. Slow (O(d³) per sweep) but
 * simple and accurate to machine precision; fine for d ≤ a few hundred.
 * @returns eigenvalues [d] and eigenvectors as the columns of V [d, d] row-major.
 */
export function symmetricEigen(m: SquareMatrix, maxSweeps = 100): { values: Float64Array; vectors: SquareMatrix } {
  const { d } = m;
  const a = Float64Array.from(m.data);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  let scale = 0;
  for (let i = 0; i < d * d; i++) scale += a[i] * a[i];
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += a[p * d + q] ** 2;
    if (off <= 1e-30 * scale || off === 0) break;
    for (let p = 0; p < d - 1; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q];
        if (apq === 0) continue;
        // Rotation angle that zeroes a[p][q] (Rutishauser's stable form, as in Numerical Recipes §11.1).
        const app = a[p * d + p];
        const aqq = a[q * d + q];
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A' = Pᵀ A P touches only rows/columns p and q; update both halves of the symmetric matrix at once.
        for (let k = 0; k < d; k++) {
          if (k === p || k === q) continue;
          const akp = a[k * d + p];
          const akq = a[k * d + q];
          const np = c * akp - s * akq;
          const nq = s * akp + c * akq;
          a[k * d + p] = np;
          a[p * d + k] = np;
          a[k * d + q] = nq;
          a[q * d + k] = nq;
        }
        a[p * d + p] = app - t * apq;
        a[q * d + q] = aqq + t * apq;
        a[p * d + q] = 0;
        a[q * d + p] = 0;
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p];
          const vkq = v[k * d + q];
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) values[i] = a[i * d + i];
  return { values, vectors: { d, data: v } };
}

/** V diag(f(λ)) Vᵀ for a symmetric matrix; f = sqrt of the clamped eigenvalues gives the PSD square root. */
export function symmetricFunction(m: SquareMatrix, f: (lambda: number) => number): SquareMatrix {
  const { d } = m;
  const { values, vectors } = symmetricEigen(m);
  const v = vectors.data;
  const fl = values.map(f);
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += v[i * d + k] * fl[k] * v[j * d + k];
      out[i * d + j] = s;
      out[j * d + i] = s;
    }
  }
  return { d, data: out };
}

/** a·b for d×d matrices. */
export function matMul(a: SquareMatrix, b: SquareMatrix): SquareMatrix {
  const { d } = a;
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < d; k++) {
      const aik = a.data[i * d + k];
      if (aik === 0) continue;
      for (let j = 0; j < d; j++) out[i * d + j] += aik * b.data[k * d + j];
    }
  }
  return { d, data: out };
}

export function trace(m: SquareMatrix): number {
  let t = 0;
  for (let i = 0; i < m.d; i++) t += m.data[i * m.d + i];
  return t;
}
