import { describe, expect, it } from 'vitest';
import type { NamedWeights } from '@duel/util';
import {
  addScaledInPlace,
  clipByGlobalNorm,
  coordinateMedian,
  krumScores,
  pairwiseSquaredDistances,
  scaleInPlace,
  trimCount,
  trimmedMean,
  weightedMean,
} from './kernels';

/** Two tensors, a [2, 2] and b [1], from five numbers. */
function ws(a0: number, a1: number, a2: number, a3: number, b0: number): NamedWeights {
  return [
    { name: 'a', shape: [2, 2], data: new Float32Array([a0, a1, a2, a3]) },
    { name: 'b', shape: [1], data: new Float32Array([b0]) },
  ];
}
const flat = (w: NamedWeights) => w.flatMap((t) => [...t.data]);

describe('weightedMean', () => {
  it('is bit-identical to the coordinate-by-coordinate float64 sum, −0 and 1..5 updates included', () => {
    let seed = 9;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    for (let n = 1; n <= 5; n++) {
      const updates: NamedWeights[] = Array.from({ length: n }, () => [
        { name: 'a', shape: [300], data: Float32Array.from({ length: 300 }, (_, i) => (i % 7 === 0 ? -0 : rnd() * 10 ** Math.round(rnd() * 6))) },
      ]);
      const weights = Array.from({ length: n }, (_, j) => 1 + j * 3);
      const total = weights.reduce((a, b) => a + b, 0);
      const ref = new Float32Array(300);
      for (let i = 0; i < 300; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += (weights[j] / total) * updates[j][0].data[i];
        ref[i] = s;
      }
      const got = weightedMean(updates, weights)[0].data;
      expect(new Uint32Array(got.buffer)).toEqual(new Uint32Array(ref.buffer));
    }
  });

  it('computes Σ w·u / Σ w per coordinate', () => {
    const out = weightedMean([ws(1, 2, 3, 4, 5), ws(3, 2, 1, 0, -5)], [1, 3]);
    // (1·1 + 3·3)/4 = 2.5, (2+6)/4 = 2, (3+3)/4 = 1.5, (4+0)/4 = 1, (5−15)/4 = −2.5
    expect(flat(out)).toEqual([2.5, 2, 1.5, 1, -2.5]);
  });

  it('writes into out, which may alias an input', () => {
    const a = ws(1, 1, 1, 1, 1);
    const out = weightedMean([a, ws(3, 3, 3, 3, 3)], [1, 1], a);
    expect(out).toBe(a);
    expect(flat(a)).toEqual([2, 2, 2, 2, 2]);
  });

  it('accumulates in float64: 1e8 + many small values keeps the small ones', () => {
    const ups = [ws(1e8, 0, 0, 0, 0), ...Array.from({ length: 9 }, () => ws(1, 0, 0, 0, 0))];
    const out = weightedMean(ups, ups.map(() => 1));
    // float32 running sums would lose every +1 against 1e8; exact is (1e8 + 9)/10.
    expect(out[0].data[0]).toBe(Math.fround((1e8 + 9) / 10));
  });

  it('rejects bad weights and mismatched layouts', () => {
    expect(() => weightedMean([ws(1, 1, 1, 1, 1)], [0])).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => weightedMean([ws(1, 1, 1, 1, 1)], [-1])).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => weightedMean([ws(1, 1, 1, 1, 1)], [1, 2])).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => weightedMean([], [])).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => weightedMean([ws(1, 1, 1, 1, 1), ws(1, 1, 1, 1, 1).slice(0, 1)], [1, 1])).toThrow(/DUEL_ERR_SHAPE_MISMATCH/);
  });
});

describe('coordinateMedian', () => {
  it('takes the middle value (odd n) or the mean of the two middle ones (even n)', () => {
    expect(flat(coordinateMedian([ws(1, 9, -1, 0, 5), ws(2, 8, -3, 0, 6), ws(100, -7, -2, 0, 7)]))).toEqual([2, 8, -2, 0, 6]);
    expect(flat(coordinateMedian([ws(1, 0, 0, 0, 4), ws(3, 0, 0, 0, 1), ws(10, 0, 0, 0, 2), ws(-10, 0, 0, 0, 3)]))).toEqual([2, 0, 0, 0, 2.5]);
  });

  it('handles more than 32 updates (the typed-array sort path)', () => {
    const ups = Array.from({ length: 41 }, (_, i) => ws(i, -i, 0, 0, (i * 7) % 41));
    expect(flat(coordinateMedian(ups))).toEqual([20, -20, 0, 0, 20]);
  });
});

describe('trimmedMean', () => {
  it('drops ⌊β·n⌋ (at least one) from each end, then averages', () => {
    const ups = [ws(1, 0, 0, 0, 0), ws(2, 0, 0, 0, 0), ws(3, 0, 0, 0, 0), ws(4, 0, 0, 0, 0), ws(1000, 0, 0, 0, 0)];
    expect(trimmedMean(ups, 0.2)[0].data[0]).toBe(3); // drop 1 and 1000: mean(2, 3, 4)
    expect(trimmedMean(ups, 0)[0].data[0]).toBe(202); // plain mean
    expect(trimmedMean(ups, 0.01)[0].data[0]).toBe(3); // any β > 0 trims at least one
  });

  it('trimCount leaves at least one value and rejects β ≥ 0.5', () => {
    expect(trimCount(10, 0.3)).toBe(3); // 0.3·10 is 3.0000000000000004 in floating point
    expect(trimCount(100, 0.29)).toBe(29); // 0.29·100 is 28.999999999999996
    // ⌊β·n⌋, not ⌈β·n⌉: a round of 7, 8 or 9 keeps 3, 4 or 5 values at β 0.3, not 1, 2 or 3.
    expect([7, 8, 9].map((n) => trimCount(n, 0.3))).toEqual([2, 2, 2]);
    expect(trimCount(5, 0.1)).toBe(1); // any β > 0 trims at least one
    expect(trimCount(7, 0)).toBe(0);
    expect(trimCount(2, 0.4)).toBe(0);
    expect(trimCount(3, 0.4)).toBe(1);
    expect(() => trimCount(4, 0.5)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });
});

describe('scaleInPlace / addScaledInPlace / clipByGlobalNorm', () => {
  it('scales and accumulates in place', () => {
    const a = ws(1, 2, 3, 4, 5);
    expect(scaleInPlace(a, 2)).toBe(a);
    expect(flat(a)).toEqual([2, 4, 6, 8, 10]);
    expect(flat(addScaledInPlace(a, ws(1, 1, 1, 1, 1), -2))).toEqual([0, 2, 4, 6, 8]);
  });

  it('clips to the global norm across tensors and reports the factor', () => {
    const a = ws(3, 0, 0, 0, 4); // norm 5
    expect(clipByGlobalNorm(a, 10)).toEqual({ norm: 5, scale: 1 });
    expect(flat(a)).toEqual([3, 0, 0, 0, 4]);
    const r = clipByGlobalNorm(a, 1);
    expect(r).toEqual({ norm: 5, scale: 0.2 });
    expect(flat(a).map((x) => +x.toFixed(6))).toEqual([0.6, 0, 0, 0, 0.8]);
    expect(() => clipByGlobalNorm(a, -1)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });
});

describe('pairwiseSquaredDistances / krumScores', () => {
  it('gives a symmetric [n, n] matrix with a zero diagonal', () => {
    const d = pairwiseSquaredDistances([ws(0, 0, 0, 0, 0), ws(1, 0, 0, 0, 0), ws(0, 0, 0, 2, 2)]);
    expect([...d]).toEqual([0, 1, 8, 1, 0, 9, 8, 9, 0]);
  });

  it('scores each update by its nearest neighbours', () => {
    // Points on a line: 0, 1, 2, 10. With 1 neighbour: 1, 1, 1, 64; with 2: 1+4, 1+1, 1+4, 64+81.
    const d = pairwiseSquaredDistances([0, 1, 2, 10].map((x) => ws(x, 0, 0, 0, 0)));
    expect([...krumScores(d, 4, 1)]).toEqual([1, 1, 1, 64]);
    expect([...krumScores(d, 4, 2)]).toEqual([5, 2, 5, 145]);
    expect(() => krumScores(d, 4, 4)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });
});
