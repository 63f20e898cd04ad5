import { describe, expect, it } from 'vitest';
import { sampleWeightedMean, stalenessScale } from './staleness';

const g = (v: number) => [{ name: 'x', shape: [2], data: new Float32Array([v, -v]) }];

describe('stalenessScale', () => {
  it('is 1/(1+τ) in inverse mode and 1 in none mode', () => {
    expect([0, 1, 3].map((t) => stalenessScale(t, 'inverse'))).toEqual([1, 0.5, 0.25]);
    expect(stalenessScale(7, 'none')).toBe(1);
  });

  it('rejects negative or non-finite staleness and unknown modes', () => {
    expect(() => stalenessScale(-1, 'inverse')).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => stalenessScale(Number.NaN, 'none')).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => stalenessScale(0, 'linear' as 'none')).toThrow(/known: inverse, none/);
  });
});

describe('sampleWeightedMean', () => {
  it('is the FedAvg mean for fresh updates', () => {
    expect([...sampleWeightedMean([{ grads: g(1), samples: 1 }, { grads: g(5), samples: 3 }], 'inverse')[0].data]).toEqual([4, -4]);
  });

  it('divides by the plain sample total, so stale rounds move less', () => {
    // Both updates one version stale: (2·½·2 + 2·½·2)/4 = 1.
    const out = sampleWeightedMean([{ grads: g(2), samples: 2, staleness: 1 }, { grads: g(2), samples: 2, staleness: 1 }], 'inverse');
    expect(out[0].data[0]).toBe(1);
  });

  it('applies extra factors, and all-zero factors give zeros', () => {
    expect(sampleWeightedMean([{ grads: g(4), samples: 1 }, { grads: g(4), samples: 1 }], 'none', [0.5, 1])[0].data[0]).toBe(3);
    expect([...sampleWeightedMean([{ grads: g(4), samples: 1 }], 'none', [0])[0].data]).toEqual([0, 0]);
  });

  it('hands back a lone fresh update as it is (no copy), and scales a lone stale or clipped one into a new buffer', () => {
    const one = g(3);
    expect(sampleWeightedMean([{ grads: one, samples: 5 }], 'inverse')).toBe(one);
    expect(sampleWeightedMean([{ grads: one, samples: 5, staleness: 0 }], 'none', [1])).toBe(one);
    const stale = sampleWeightedMean([{ grads: one, samples: 5, staleness: 1 }], 'inverse');
    const clipped = sampleWeightedMean([{ grads: one, samples: 5 }], 'none', [0.5]);
    for (const out of [stale, clipped]) {
      expect(out).not.toBe(one);
      expect(out[0].data).not.toBe(one[0].data);
      expect([...out[0].data]).toEqual([1.5, -1.5]);
    }
    expect([...one[0].data]).toEqual([3, -3]);
  });
});
