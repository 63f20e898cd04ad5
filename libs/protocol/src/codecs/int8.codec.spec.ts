import { Rng } from '@duel/util';
import { describe, expect, it } from 'vitest';
import { decodeInt8, encodeInt8, INT8_LEVELS } from './int8.codec';

describe('int8 codec', () => {
  it('stays within scale/2 = max|x|/254 of every value, for tensors of very different scales', () => {
    const rng = new Rng(11);
    for (const std of [1e-6, 1e-2, 1, 300]) {
      const x = rng.fillNormal(new Float32Array(5000), 0, std);
      const { q, scale } = encodeInt8(x);
      let max = 0;
      for (const v of x) max = Math.max(max, Math.abs(v));
      expect(scale).toBeCloseTo(max / INT8_LEVELS, 5 - Math.log10(std));
      const y = decodeInt8(q, scale, new Float32Array(x.length));
      let worst = 0;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
      expect(worst).toBeLessThanOrEqual(scale / 2 * (1 + 1e-6));
      expect(worst).toBeGreaterThan(0); // it is lossy: the test would notice a no-op
    }
  });

  it('maps the extremes to ±127 and reproduces them exactly', () => {
    const x = new Float32Array([-3, 1.5, 3, 0]);
    const { q, scale } = encodeInt8(x);
    expect([...q]).toEqual([-127, 64, 127, 0]);
    const y = decodeInt8(q, scale, new Float32Array(4));
    expect(y[0]).toBeCloseTo(-3, 6);
    expect(y[2]).toBeCloseTo(3, 6);
    expect(y[3]).toBe(0);
  });

  it('an all-zero tensor has scale 0 and decodes to zeros', () => {
    const { q, scale } = encodeInt8(new Float32Array(10));
    expect(scale).toBe(0);
    expect([...decodeInt8(q, scale, new Float32Array(10))]).toEqual(new Array(10).fill(0));
  });
});
