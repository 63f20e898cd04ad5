import { describe, expect, it } from 'vitest';
import { Rng } from '@duel/util';
import { meanIntoJs, meanIntoWasm, meanKernelName } from './mean-kernel';

/** Values of every kind the sum must carry bit for bit: ±0, subnormals, tiny and huge magnitudes, ordinary gradients. */
function values(rng: Rng, len: number): Float32Array {
  const out = new Float32Array(len);
  for (let i = 0; i < len; i++) {
    const r = rng.uniform();
    const sign = rng.uniform() < 0.5 ? -1 : 1;
    if (r < 0.05) out[i] = -0;
    else if (r < 0.08) out[i] = 0;
    else if (r < 0.12) out[i] = sign * 1e-45 * (1 + Math.floor(rng.uniform() * 1000)); // subnormal
    else if (r < 0.15) out[i] = sign * 3e38 * rng.uniform();
    else out[i] = sign * rng.uniform() * 10 ** Math.round(rng.uniform() * 12 - 9);
  }
  return out;
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

/** Weights as weightedMean normalizes them: sample counts over their sum. */
function norm(rng: Rng, n: number, ones = false): number[] {
  const w = Array.from({ length: n }, () => (ones ? 1 : 1 + Math.floor(rng.uniform() * 256)));
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / total);
}

describe('the weighted-mean kernel', () => {
  it('runs as WebAssembly SIMD in Node', () => {
    expect(meanKernelName()).toBe('wasm-simd');
  });

  // 2·8192 + 3: three chunks, the last one not a multiple of 4 values.
  it.each([1, 2, 3, 4, 7, 12])('agrees with the JS loop bit for bit with %i update(s), across chunks and a ragged tail', (n) => {
    const rng = new Rng(100 + n);
    for (const len of [1, 5, 2 * 8192 + 3]) {
      const src = Array.from({ length: n }, () => values(rng, len));
      for (const w of [norm(rng, n), norm(rng, n, true)]) {
        const js = new Float32Array(len);
        const wasm = new Float32Array(len).fill(Number.NaN);
        meanIntoJs(js, src, w);
        expect(meanIntoWasm(wasm, src, w)).toBe(true);
        expect(bits(wasm)).toEqual(bits(js));
      }
    }
  });

  it('turns −0 into +0 in a mean of one update, as the float64 sum does', () => {
    const dst = new Float32Array(5);
    meanIntoWasm(dst, [Float32Array.of(-0, 1, -0, -2, -0)], [1]);
    expect(Array.from(bits(dst))).toEqual(Array.from(bits(Float32Array.of(0, 1, 0, -2, 0))));
  });

  it('may write into one of its inputs', () => {
    const rng = new Rng(7);
    const len = 8192 + 9;
    const src = [values(rng, len), values(rng, len), values(rng, len)];
    const w = norm(rng, 3);
    const want = new Float32Array(len);
    meanIntoJs(want, src, w);
    meanIntoWasm(src[1], src, w);
    expect(bits(src[1])).toEqual(bits(want));
  });

  it('reads input views at any offset (a decoded frame is a view into its buffer)', () => {
    const rng = new Rng(8);
    const backing = values(rng, 1000);
    const a = backing.subarray(3, 503);
    const b = backing.subarray(401, 901);
    const js = new Float32Array(500);
    const wasm = new Float32Array(500);
    meanIntoJs(js, [a, b], [0.25, 0.75]);
    meanIntoWasm(wasm, [a, b], [0.25, 0.75]);
    expect(bits(wasm)).toEqual(bits(js));
  });
});
