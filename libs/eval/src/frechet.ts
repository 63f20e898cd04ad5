import { DuelError, ErrorCodes } from '@duel/util';
import { matMul, meanAndCovariance, symmetricEigen, symmetricFunction, trace, type SquareMatrix } from './linalg';

/** A Gaussian fitted to features: what FID keeps of a sample set. */
export interface GaussianStats {
  n: number;
  mean: Float64Array;
  cov: SquareMatrix;
}

/** Mean and covariance of features [n, d]; cache the real set's stats and reuse them. */
export function gaussianStats(features: ArrayLike<number>, dim: number): GaussianStats {
  return meanAndCovariance(features, dim);
}

/**
 * Fréchet (2-Wasserstein) distance between two Gaussians (Dowson & Landau 1982),
 * the quantity behind FID (Heusel et al. 2017):
 *
 *   FD = |μ1 − μ2|² + Tr(Σ1 + Σ2 − 2 (Σ1^½ Σ2 Σ1^½)^½)
 *
 * Σ1^½ Σ2 Σ1^½ is symmetric PSD, so both square roots come from symmetric
 * eigendecompositions (Jacobi), with tiny negative eigenvalues from rounding clamped
 * to 0. This avoids the non-symmetric sqrtm(Σ1Σ2) of the reference code.
 * @returns a distance ≥ 0 (clamped: rounding can give −1e-12).
 */
export function frechetFromStats(a: GaussianStats, b: GaussianStats): number {
  const d = a.mean.length;
  if (b.mean.length !== d) {
    throw new DuelError(ErrorCodes.SHAPE_MISMATCH, `Fréchet distance: dimensions ${d} and ${b.mean.length} differ`);
  }
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (a.mean[i] - b.mean[i]) ** 2;
  const s1Half = symmetricFunction(a.cov, (l) => Math.sqrt(Math.max(l, 0)));
  const inner = matMul(matMul(s1Half, b.cov), s1Half);
  // Symmetrise away rounding before the second eigendecomposition.
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      const v = (inner.data[i * d + j] + inner.data[j * d + i]) / 2;
      inner.data[i * d + j] = v;
      inner.data[j * d + i] = v;
    }
  }
  let trSqrt = 0;
  for (const l of symmetricEigen(inner).values) trSqrt += Math.sqrt(Math.max(l, 0));
  return Math.max(0, meanTerm + trace(a.cov) + trace(b.cov) - 2 * trSqrt);
}

/**
 * Fréchet distance between two feature sets [nA, dim] and [nB, dim] (each n ≥ 2).
 * @throws DuelError DUEL_ERR_BAD_ARGUMENT for too few or ragged rows.
 */
export function featureFrechetDistance(a: ArrayLike<number>, b: ArrayLike<number>, dim: number): number {
  return frechetFromStats(gaussianStats(a, dim), gaussianStats(b, dim));
}
