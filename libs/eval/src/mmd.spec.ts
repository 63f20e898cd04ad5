import { describe, expect, it } from 'vitest';
import { Rng } from '@duel/util';
import { medianBandwidth, mmd2 } from './mmd';

const normal = (n: number, d: number, mean: number, seed: number) => {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n * d }, () => mean + rng.normal());
};

describe('mmd2', () => {
  it('computes the unbiased estimate on a hand-built 1-D case', () => {
    // x = {0, 1}, y = {0, 2}, h = 1: k(a, b) = exp(−(a − b)²/2).
    const k = (a: number, b: number) => Math.exp(-((a - b) ** 2) / 2);
    const expected = k(0, 1) + k(0, 2) - (2 / 4) * (k(0, 0) + k(0, 2) + k(1, 0) + k(1, 2));
    expect(mmd2([0, 1], [0, 2], 1, 1)).toBeCloseTo(expected, 14);
  });

  it('is near 0 for two samples of one distribution and clearly positive for shifted ones', () => {
    const x = normal(300, 2, 0, 1);
    const same = mmd2(x, normal(300, 2, 0, 2), 2);
    const shifted = mmd2(x, normal(300, 2, 1, 3), 2);
    expect(Math.abs(same)).toBeLessThan(0.01);
    expect(shifted).toBeGreaterThan(0.1);
    expect(shifted).toBeGreaterThan(20 * Math.abs(same));
  });

  it('median heuristic is the median pairwise distance', () => {
    // Pool {0, 1, 3} in 1-D: distances 1, 3, 2 → median 2.
    expect(medianBandwidth([0, 1], [3, 3], 1)).toBe(2);
    expect(medianBandwidth([5, 5], [5, 5], 1)).toBe(1);
  });

  it('rejects too few rows and a bad bandwidth', () => {
    expect(() => mmd2([0], [0, 1], 1)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => mmd2([0, 1], [0, 1], 1, 0)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });
});
