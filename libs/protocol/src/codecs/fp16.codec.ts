/**
 * fp16: IEEE 754 binary16 with round-to-nearest-even, as raw bits in a
 * Uint16Array (the wire's `float16` dtype). Halves the bytes of a float32
 * gradient.
 *
 * Error, per element x (float32):
 * - |x| ≤ 65504 (binary16's largest finite): |x − x̂| ≤ 2^-11·|x| in the normal
 *   range (|x| ≥ 2^-14) and ≤ 2^-25 below it (subnormals, then 0);
 * - |x| > 65504: saturates to ±65504 rather than ±Infinity, so a large but
 *   finite gradient is never turned into a NON_FINITE rejection; the excess is
 *   what error feedback carries to the next step.
 * NaN stays NaN (the coordinator then refuses the result, as for fp32).
 */

export const FP16_MAX = 65504;

// Shared scratch to read a float32's bits without allocating.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits nearest to `x` (ties to even), saturating at ±65504. */
export function float32ToFloat16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return mant !== 0 ? sign | 0x7e00 : sign | 0x7bff; // NaN stays NaN; ±Inf saturates
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7bff; // overflow: saturate
  if (e <= 0) {
    // Subnormal binary16 (or zero): shift the full significand, rounding to nearest even.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let h = m >>> shift;
    if (rest > half || (rest === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++; // may carry into the exponent: still correct
  if ((h & 0x7fff) >= 0x7c00) return sign | 0x7bff; // rounded up to Inf: saturate
  return sign | h;
}

/** The float32 value of binary16 bits `h` (exact: every binary16 is a float32). */
export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

let table: Float32Array | null = null;
/** All 65,536 binary16 values as float32 (256 KiB, built on first decode). */
function decodeTable(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = float16BitsToFloat32(h);
  }
  return table;
}

/** Encodes float32 values into binary16 bits; writes into `out` when given (same length). */
export function encodeFp16(values: Float32Array, out: Uint16Array = new Uint16Array(values.length)): Uint16Array {
  for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16Bits(values[i]);
  return out;
}

/** Decodes binary16 bits into `out` (same length). */
export function decodeFp16(bits: Uint16Array, out: Float32Array): Float32Array {
  const t = decodeTable();
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}
