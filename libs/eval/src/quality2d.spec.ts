import { describe, expect, it } from 'vitest';
import { grid25, ring8 } from '@duel/datasets';
import { Rng } from '@duel/util';
import { quality2d } from './quality2d';

const square = [
  [0, 0],
  [1, 0],
  [0, 1],
  [1, 1],
] as const;
const pts = (xs: number[][]) => Float32Array.from(xs.flat());

describe('quality2d', () => {
  it('scores a hand-built set exactly', () => {
    // σ = 0.1, so HQ radius 0.3. 8 samples: 3 at centre 0, 2 near centre 1 (one outside 3σ), 1 at centre 2, 2 far.
    const q = quality2d(
      pts([
        [0, 0],
        [0.1, 0],
        [0, -0.29],
        [1, 0.05],
        [1.31, 0],
        [0, 1],
        [0.5, 0.4], // nearest centre 0, not HQ
        [5, 5], // nearest centre 3, not HQ
      ]),
      square,
      0.1,
    );
    expect(q.n).toBe(8);
    expect(q.numCentres).toBe(4);
    expect(q.hq).toBe(5 / 8);
    expect(q.modes).toBe(3);
    // Fair share 8/4 = 2, so a centre needs ≥ 0.5 HQ samples: the 3 covered centres.
    expect(q.modesBalanced).toBe(3);
    // Assignments: centre0 4, centre1 2, centre2 1, centre3 1.
    const qs = [4 / 8, 2 / 8, 1 / 8, 1 / 8];
    expect(q.reverseKL).toBeCloseTo(qs.reduce((s, p) => s + p * Math.log(4 * p), 0), 12);
  });

  it('counts exactly 3σ as HQ and just beyond as not', () => {
    // σ = 0.125 so that 3σ = 0.375 is exact in float32 and float64.
    expect(quality2d(pts([[0.375, 0]]), square, 0.125).hq).toBe(1);
    expect(quality2d(pts([[0, -0.375]]), square, 0.125).hq).toBe(1);
    expect(quality2d(pts([[0.3751, 0]]), square, 0.125).hq).toBe(0);
    // 3σ is Euclidean, not per axis: (0.3, 0.3) is 0.424 away.
    expect(quality2d(pts([[0.3, 0.3]]), square, 0.125).hq).toBe(0);
  });

  it('gives modesBalanced < modes when some modes get only a few HQ samples', () => {
    // 100 samples: 97 on centre 0, 1 on each other centre. Fair share 25, threshold 6.25.
    const xs = [...Array(97).fill([0, 0]), [1, 0], [0, 1], [1, 1]];
    const q = quality2d(pts(xs), square, 0.1);
    expect(q.modes).toBe(4);
    expect(q.modesBalanced).toBe(1);
  });

  it('reverseKL is 0 for a uniform histogram and log K for total collapse', () => {
    expect(quality2d(pts([...square].map((c) => [...c])), square, 0.1).reverseKL).toBe(0);
    expect(quality2d(pts([[0, 0], [0, 0], [0.9, 0.9]]), square, 0.1).reverseKL).toBeGreaterThan(0);
    expect(quality2d(pts(Array(10).fill([1, 1])), square, 0.1).reverseKL).toBeCloseTo(Math.log(4), 12);
  });

  it('treats non-finite samples as never HQ and outside the histogram', () => {
    const q = quality2d(pts([[NaN, 0], [0, 0], [Infinity, 1]]), square, 0.1);
    expect(q.n).toBe(3);
    expect(q.hq).toBeCloseTo(1 / 3, 12);
    expect(q.reverseKL).toBeCloseTo(Math.log(4), 12);
    const allBad = quality2d(pts([[NaN, NaN]]), square, 0.1);
    expect(allBad).toMatchObject({ modes: 0, modesBalanced: 0, hq: 0 });
    expect(allBad.reverseKL).toBeCloseTo(Math.log(4), 12);
  });

  it('rejects empty or ragged input', () => {
    expect(() => quality2d(new Float32Array(0), square, 0.1)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => quality2d(new Float32Array(3), square, 0.1)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => quality2d(new Float32Array(2), [], 0.1)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => quality2d(new Float32Array(2), square, 0)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });

  it.each([ring8, grid25])('real $name data scores full marks on 2,500 samples', (ds) => {
    const q = quality2d(ds.batch(2500, new Rng(3)), ds.centres, ds.sigma);
    expect(q.modes).toBe(ds.centres.length);
    expect(q.modesBalanced).toBe(ds.centres.length);
    // P(χ²₂ ≤ 9) = 1 − e^{−4.5} ≈ 0.989.
    expect(q.hq).toBeGreaterThan(0.98);
    expect(q.reverseKL).toBeLessThan(0.02);
  });

  it('a generator stuck on one ring8 mode scores 1 mode and KL = log 8', () => {
    const rng = new Rng(4);
    const xs = Float32Array.from({ length: 5000 }, (_, i) => (i % 2 === 0 ? 1 : 0) + 0.01 * rng.normal());
    const q = quality2d(xs, ring8.centres, ring8.sigma);
    expect(q).toMatchObject({ modes: 1, modesBalanced: 1 });
    expect(q.reverseKL).toBeCloseTo(Math.log(8), 10);
  });
});
