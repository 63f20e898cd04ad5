import { describe, expect, it } from 'vitest';
import { Rng } from '@duel/util';
import { featureFrechetDistance, frechetFromStats, type GaussianStats } from './frechet';

function gaussianSamples(n: number, means: number[], stds: number[], seed: number): Float64Array {
  const rng = new Rng(seed);
  const d = means.length;
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) out[i * d + j] = means[j] + stds[j] * rng.normal();
  return out;
}

const diag = (v: number[]) => {
  const d = v.length;
  const data = new Float64Array(d * d);
  v.forEach((x, i) => (data[i * d + i] = x));
  return { d, data };
};
const stats = (mean: number[], variances: number[]): GaussianStats => ({ n: 0, mean: Float64Array.from(mean), cov: diag(variances) });

describe('Fréchet distance', () => {
  it('is ~0 for identical feature sets', () => {
    const x = gaussianSamples(500, [0, 1, 2, 3], [1, 2, 0.5, 1], 1);
    expect(featureFrechetDistance(x, x, 4)).toBeLessThan(1e-9);
  });

  it('is |Δμ|² for Gaussians that differ only by a shift', () => {
    const x = gaussianSamples(300, [0, 0, 0], [1, 2, 3], 2);
    const y = x.map((v, i) => v + [1, -2, 0.5][i % 3]);
    expect(featureFrechetDistance(x, y, 3)).toBeCloseTo(1 + 4 + 0.25, 8);
  });

  it('matches the closed form for diagonal covariances: |Δμ|² + Σ(σ1 − σ2)²', () => {
    const fd = frechetFromStats(stats([0, 1], [4, 9]), stats([1, 1], [1, 16]));
    // 1 + (2 − 1)² + (3 − 4)²
    expect(fd).toBeCloseTo(3, 10);
  });

  it('handles non-commuting covariances (tr formula vs the 2-D closed form)', () => {
    // Σ1 = diag(1, 4) and a rotated Σ2: check against tr(Σ1 + Σ2) − 2·tr((Σ1^½ Σ2 Σ1^½)^½),
    // where for 2×2 PSD M, tr(√M) = √(tr M + 2√det M).
    const s2 = { d: 2, data: Float64Array.of(2, 1, 1, 3) };
    const a: GaussianStats = { n: 0, mean: Float64Array.of(0, 0), cov: diag([1, 4]) };
    const b: GaussianStats = { n: 0, mean: Float64Array.of(0, 0), cov: s2 };
    // M = Σ1^½ Σ2 Σ1^½ = [[2, 2], [2, 12]]: tr 14, det 20.
    const expected = 1 + 4 + 2 + 3 - 2 * Math.sqrt(14 + 2 * Math.sqrt(20));
    expect(frechetFromStats(a, b)).toBeCloseTo(expected, 10);
  });

  it('approaches the population value on samples and grows with the shift', () => {
    const x = gaussianSamples(4000, [0, 0], [1, 1], 3);
    const near = gaussianSamples(4000, [0, 0], [1, 1], 4);
    const far = gaussianSamples(4000, [3, 0], [2, 1], 5);
    expect(featureFrechetDistance(x, near, 2)).toBeLessThan(0.01);
    // Population: 9 + (2 − 1)² = 10.
    expect(featureFrechetDistance(x, far, 2)).toBeGreaterThan(9.5);
    expect(featureFrechetDistance(x, far, 2)).toBeLessThan(10.5);
  });

  it('handles a singular covariance (fewer rows than dimensions)', () => {
    const x = gaussianSamples(5, Array(8).fill(0), Array(8).fill(1), 6);
    const fd = featureFrechetDistance(x, x, 8);
    expect(Number.isFinite(fd)).toBe(true);
    expect(fd).toBeLessThan(1e-6);
  });

  it('rejects mismatched dimensions', () => {
    expect(() => frechetFromStats(stats([0], [1]), stats([0, 0], [1, 1]))).toThrow(/DUEL_ERR_SHAPE_MISMATCH/);
  });
});
