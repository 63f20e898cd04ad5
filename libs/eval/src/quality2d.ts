import { DuelError, ErrorCodes } from '@duel/util';

/** The 2-D quality report of SYSTEM.md, on samples from G. */
export interface Quality2d {
  /** Centres with at least one HQ sample (the VEEGAN/PacGAN "modes captured"). */
  modes: number;
  /** Centres with at least 25% of their fair share n/numCentres of HQ samples. */
  modesBalanced: number;
  /** Share of HQ samples in [0, 1]. */
  hq: number;
  /** KL(q ‖ uniform) in nats, q = histogram of nearest-centre assignments of all finite samples. */
  reverseKL: number;
  numCentres: number;
  /** Number of samples scored. */
  n: number;
}

/** A centre needs this fraction of its fair share n/K of HQ samples to count in modesBalanced. */
export const BALANCED_SHARE = 0.25;

/** An HQ sample lies within this many σ (Euclidean) of its nearest centre (PacGAN §5.1). */
export const HQ_SIGMAS = 3;

/**
 * Mode coverage of samples from a mixture of Gaussians, as defined in SYSTEM.md
 * after VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018):
 *
 * - a sample is high-quality (HQ) if its Euclidean distance to the nearest centre is ≤ 3σ;
 * - `modes` = #centres with ≥ 1 HQ sample;
 * - `modesBalanced` = #centres whose HQ count is ≥ 0.25 · n / K. The fair share is
 *   n/K, the count a perfect sampler gives each of the K centres, so a collapsed or
 *   blurry G cannot pass by spreading a few good samples thinly;
 * - `hq` = #HQ / n;
 * - `reverseKL` = Σ_k q_k log(K q_k) with q_k the share of finite samples whose nearest
 *   centre is k (0·log 0 = 0). 0 when spread evenly, log K when all fall on one centre.
 *
 * Non-finite samples (a diverged G) count in n, are never HQ and have no nearest
 * centre; if no sample is finite, reverseKL is log K, its worst value.
 *
 * @param points [n, d] row-major, d = centres[0].length (2 for ring8/grid25)
 * @param centres K centres of dimension d
 * @param sigma the per-axis σ of the mixture components
 * @throws DuelError DUEL_ERR_BAD_ARGUMENT for no samples, no centres or mismatched dimensions.
 */
export function quality2d(points: Float32Array, centres: readonly (readonly number[])[], sigma: number): Quality2d {
  const K = centres.length;
  const d = K > 0 ? centres[0].length : 0;
  if (K === 0 || d === 0 || !(sigma > 0)) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, 'quality2d: need at least one centre and sigma > 0');
  }
  if (points.length === 0 || points.length % d !== 0) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `quality2d: ${points.length} values is not a non-empty [n, ${d}] array`);
  }
  const n = points.length / d;
  const hqRadius2 = (HQ_SIGMAS * sigma) ** 2;
  const assigned = new Float64Array(K);
  const hqPerCentre = new Float64Array(K);
  let finite = 0;
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bestD2 = Infinity;
    for (let k = 0; k < K; k++) {
      const c = centres[k];
      let d2 = 0;
      for (let j = 0; j < d; j++) d2 += (points[i * d + j] - c[j]) ** 2;
      if (d2 < bestD2) {
        bestD2 = d2;
        best = k;
      }
    }
    if (best < 0) continue; // NaN or ±Inf coordinates: no distance compares below Infinity.
    finite++;
    assigned[best]++;
    if (bestD2 <= hqRadius2) hqPerCentre[best]++;
  }
  const fairShare = n / K;
  let modes = 0;
  let modesBalanced = 0;
  let hq = 0;
  let reverseKL = 0;
  for (let k = 0; k < K; k++) {
    hq += hqPerCentre[k];
    if (hqPerCentre[k] >= 1) modes++;
    if (hqPerCentre[k] >= BALANCED_SHARE * fairShare) modesBalanced++;
    const q = finite > 0 ? assigned[k] / finite : 0;
    if (q > 0) reverseKL += q * Math.log(K * q);
  }
  if (finite === 0) reverseKL = Math.log(K);
  return { modes, modesBalanced, hq: hq / n, reverseKL, numCentres: K, n };
}
