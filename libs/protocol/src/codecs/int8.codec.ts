/**
 * int8: symmetric linear quantisation with one float scale per tensor,
 * q = round(x / s) ∈ [−127, 127], s = max|x| / 127, x̂ = q·s (QSGD-style
 * 8-bit quantisation, Alistarh et al. 2017, deterministic rounding). A
 * quarter of float32's bytes, plus the scale in the header.
 *
 * Error, per element: |x − x̂| ≤ s/2 = max|x| / 254. Meant to be used with
 * error feedback (Seide et al. 2014; Karimireddy et al. 2019, "Error feedback
 * fixes SignSGD"): the worker adds what rounding lost to its next gradient.
 */

export const INT8_LEVELS = 127;

export interface Int8Encoded {
  q: Int8Array;
  /** Finite and ≥ 0; 0 when every value is 0. */
  scale: number;
}

/** Quantises finite float32 values. A non-finite input gives a non-finite scale (the receiver refuses it). */
export function encodeInt8(values: Float32Array, q: Int8Array = new Int8Array(values.length)): Int8Encoded {
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (a > max || a !== a) max = a;
  }
  // The scale travels as a float64 in the header; rounding it to float32 keeps x̂ = q·s exact in float32 math on both ends.
  const scale = Math.fround(max / INT8_LEVELS);
  if (!(scale > 0) || !Number.isFinite(scale)) {
    q.fill(0);
    return { q, scale: max === 0 ? 0 : scale };
  }
  const inv = 1 / scale;
  for (let i = 0; i < values.length; i++) {
    const r = Math.round(values[i] * inv);
    q[i] = r > INT8_LEVELS ? INT8_LEVELS : r < -INT8_LEVELS ? -INT8_LEVELS : r;
  }
  return { q, scale };
}

/** x̂ = q·scale into `out` (same length). */
export function decodeInt8(q: Int8Array, scale: number, out: Float32Array): Float32Array {
  for (let i = 0; i < q.length; i++) out[i] = q[i] * scale;
  return out;
}
