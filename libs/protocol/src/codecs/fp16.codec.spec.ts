import { Rng } from '@duel/util';
import { describe, expect, it } from 'vitest';
import { decodeFp16, encodeFp16, float16BitsToFloat32, float32ToFloat16Bits, FP16_MAX } from './fp16.codec';

describe('fp16 codec', () => {
  it('round-trips every finite binary16 value exactly (decode then encode gives the same bits)', () => {
    let checked = 0;
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const exp = (h >>> 10) & 0x1f;
      if (exp === 0x1f) continue; // Inf/NaN: below
      if (float32ToFloat16Bits(float16BitsToFloat32(h)) !== h) wrong.push(h);
      checked++;
    }
    expect(wrong).toEqual([]);
    expect(checked).toBe(63488);
  });

  it('known values: 1, -2, 65504, the smallest subnormal, -0', () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float16BitsToFloat32(0x3555)).toBeCloseTo(0.333251953125, 12);
  });

  it('rounds to nearest, ties to even', () => {
    // Between 1 (0x3c00) and 1 + 2^-10 (0x3c01): the midpoint goes to the even 0x3c00, just above it to 0x3c01.
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(float32ToFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // midpoint of 0x3c01/0x3c02 → even
    // Subnormal midpoint: 1.5 · 2^-24 lies between 0x0001 and 0x0002 → 0x0002.
    expect(float32ToFloat16Bits(1.5 * 2 ** -24)).toBe(0x0002);
    expect(float32ToFloat16Bits(0.5 * 2 ** -24)).toBe(0x0000);
    // Rounding up across a binade: the largest value below 2 rounds to 2.
    expect(float32ToFloat16Bits(2 - 2 ** -20)).toBe(0x4000);
  });

  it('saturates beyond ±65504 (and ±Infinity) instead of overflowing; NaN stays NaN', () => {
    expect(float32ToFloat16Bits(65520)).toBe(0x7bff);
    expect(float32ToFloat16Bits(1e10)).toBe(0x7bff);
    expect(float32ToFloat16Bits(-Infinity)).toBe(0xfbff);
    expect(float16BitsToFloat32(float32ToFloat16Bits(NaN))).toBeNaN();
  });

  it('stays within its stated error on random gradients of every scale', () => {
    const rng = new Rng(7);
    const x = new Float32Array(20_000);
    for (let i = 0; i < x.length; i++) x[i] = rng.normal() * 10 ** Math.floor(rng.uniform() * 12 - 8);
    x[0] = 70000;
    x[1] = -1e6;
    const y = decodeFp16(encodeFp16(x), new Float32Array(x.length));
    const over: number[] = [];
    for (let i = 0; i < x.length; i++) {
      const a = Math.abs(x[i]);
      const bound = a > FP16_MAX ? a - FP16_MAX : a >= 2 ** -14 ? 2 ** -11 * a : 2 ** -25;
      if (!(Math.abs(x[i] - y[i]) <= bound)) over.push(i);
    }
    expect(over).toEqual([]);
    expect(y[0]).toBe(FP16_MAX);
  });
});
