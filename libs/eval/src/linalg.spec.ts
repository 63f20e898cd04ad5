import { describe, expect, it } from 'vitest';
import { Rng } from '@duel/util';
import { matMul, meanAndCovariance, symmetricEigen, symmetricFunction, trace, type SquareMatrix } from './linalg';

function randomSpd(d: number, seed: number): SquareMatrix {
  const rng = new Rng(seed);
  const a = { d, data: Float64Array.from({ length: d * d }, () => rng.normal()) };
  const at = { d, data: new Float64Array(d * d) };
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) at.data[i * d + j] = a.data[j * d + i];
  return matMul(a, at);
}

describe('meanAndCovariance', () => {
  it('computes the unbiased covariance of a hand-built set', () => {
    const { n, mean, cov } = meanAndCovariance([1, 2, 3, 6, 5, 10], 2);
    expect(n).toBe(3);
    expect(Array.from(mean)).toEqual([3, 6]);
    // x: 1,3,5 (var 4); y: 2,6,10 (var 16); cov 8.
    expect(Array.from(cov.data)).toEqual([4, 8, 8, 16]);
  });

  it('rejects fewer than 2 rows', () => {
    expect(() => meanAndCovariance([1, 2], 2)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => meanAndCovariance([1, 2, 3], 2)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });
});

describe('symmetricEigen (Jacobi)', () => {
  it('finds the eigenvalues of [[2, 1], [1, 2]]', () => {
    const { values } = symmetricEigen({ d: 2, data: Float64Array.of(2, 1, 1, 2) });
    expect([...values].sort()).toEqual([expect.closeTo(1, 12), expect.closeTo(3, 12)]);
  });

  it('reconstructs a random 40×40 SPD matrix as V diag(λ) Vᵀ with orthonormal V', () => {
    const m = randomSpd(40, 1);
    const back = symmetricFunction(m, (l) => l);
    let err = 0;
    for (let i = 0; i < m.data.length; i++) err = Math.max(err, Math.abs(back.data[i] - m.data[i]));
    expect(err).toBeLessThan(1e-9);
    const { values, vectors } = symmetricEigen(m);
    expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(trace(m), 8);
    const v = vectors.data;
    for (const [i, j] of [[0, 0], [3, 17], [39, 39]]) {
      let dot = 0;
      for (let k = 0; k < 40; k++) dot += v[k * 40 + i] * v[k * 40 + j];
      expect(dot).toBeCloseTo(i === j ? 1 : 0, 10);
    }
  });

  it('gives a PSD square root that squares back', () => {
    const m = randomSpd(12, 2);
    const r = symmetricFunction(m, Math.sqrt);
    const sq = matMul(r, r);
    for (let i = 0; i < m.data.length; i++) expect(sq.data[i]).toBeCloseTo(m.data[i], 8);
  });
});
