import { MEAN_KERNEL_WASM_BASE64 } from './mean-kernel.wasm';
import { compileKernel, instantiateKernel } from './wasm-module';

/**
 * The inner loop of weightedMean (kernels.ts) for one tensor, twice: in
 * WebAssembly SIMD (mean-kernel.wat), and in plain JS as the fallback. Both
 * sum in float64 in the order j = 0..n−1 and round to float32 once, so they
 * agree bit for bit (the spec checks it, −0 and subnormals included).
 *
 * The JS loop converts every value to float64 and back one at a time, about
 * 2 ns a value per update; a copy of the same bytes is 20× faster. The kernel
 * widens, multiplies and adds two float64 lanes at a time, with the chunk's
 * float64 sums in its own memory. On the `mlp` G (1.49M values), medians of
 * `tools/bench/micro-hotpath.ts`, both loops on the same arrays in one run
 * (2026-12-06, Node 20, AMD EPYC, 2 cores): 2 updates 3.54 → 2.34 ms,
 * 3 updates 10.12 → 3.13 ms, 4 updates 13.57 → 4.15 ms.
 */

/** dst[i] = Σ_j norm[j]·src[j][i], summed in float64 for j = 0..n−1 and rounded to float32 once. */
export function meanIntoJs(dst: Float32Array, src: readonly Float32Array[], norm: readonly number[]): void {
  const len = dst.length;
  const n = src.length;
  if (n === 1) {
    const a = src[0];
    const w = norm[0];
    if (w === 1) return copyPositiveZero(dst, a);
    // `0 +` turns −0 into +0, as the running sum of the general case would.
    for (let i = 0; i < len; i++) dst[i] = 0 + w * a[i];
    return;
  }
  const a0 = src[0];
  const w0 = norm[0];
  const last = src[n - 1];
  const wl = norm[n - 1];
  if (n === 2) {
    // The same float64 sum, (0 + w0·a0) + wl·a1, without the accumulator.
    for (let i = 0; i < len; i++) dst[i] = 0 + w0 * a0[i] + wl * last[i];
    return;
  }
  for (let start = 0; start < len; start += BLOCK) {
    const end = Math.min(len, start + BLOCK);
    for (let i = start; i < end; i++) acc[i - start] = 0 + w0 * a0[i];
    for (let j = 1; j < n - 1; j++) {
      const a = src[j];
      const w = norm[j];
      for (let i = start; i < end; i++) acc[i - start] += w * a[i];
    }
    for (let i = start; i < end; i++) dst[i] = acc[i - start] + wl * last[i];
  }
}

const NEGATIVE_ZERO_BITS = -0x80000000;

/**
 * dst = 0 + 1·a, the one-update mean (a round of one worker, or one shard):
 * a native copy, then −0 → +0 (what the float64 sum would give) found with
 * native `indexOf` on the bits. On 1.49M values (the `mlp` G) 2.3× faster
 * than the JS loop with one −0 in 5000, 1.2× with one in 50 (a micro-run,
 * 2026-12-03, Node 20); the loop converts every value to float64 and back.
 */
function copyPositiveZero(dst: Float32Array, a: Float32Array): void {
  dst.set(a);
  const bits = new Int32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = bits.indexOf(NEGATIVE_ZERO_BITS); i >= 0; i = bits.indexOf(NEGATIVE_ZERO_BITS, i + 1)) bits[i] = 0;
}

/**
 * Coordinates per block of the JS loop: the block's float64 sums (16 KiB)
 * stay in L1 while every update's slice is added.
 */
const BLOCK = 2048;
const acc = new Float64Array(BLOCK);

type First = (n: number, acc: number, a: number, w: number) => void;
type Last = (n: number, dst: number, acc: number, a: number, w: number) => void;

/** Float32 values per kernel call: a chunk of each input and of dst (32 KiB), and its float64 sums (64 KiB), stay in L2. */
const CHUNK = 8192;

interface Kernel {
  mem: Float32Array;
  first: First;
  add: First;
  last: Last;
  only: First;
}

/** undefined: not tried yet; null: unavailable here. */
let kernel: Kernel | null | undefined;

/** Memory layout in float32 units: the float64 sums (2·CHUNK), then the input chunk, then the output chunk. */
const ACC = 0;
const IN = 2 * CHUNK;
const OUT = 3 * CHUNK;

function meanKernel(): Kernel | null {
  if (kernel !== undefined) return kernel;
  const made = instantiateKernel(compileKernel(MEAN_KERNEL_WASM_BASE64), 4 * 4 * CHUNK);
  const e = made?.exports;
  kernel = e ? { mem: new Float32Array(made.memory.buffer), first: e['first'] as First, add: e['add'] as First, last: e['last'] as Last, only: e['only'] as First } : null;
  return kernel;
}

/** Which loop {@link meanInto} runs in this engine. */
export function meanKernelName(): 'wasm-simd' | 'js' {
  return meanKernel() ? 'wasm-simd' : 'js';
}

/**
 * {@link meanIntoJs} in WebAssembly SIMD, bit for bit the same: each chunk of
 * each input is copied into the kernel's memory (a native copy) and added to
 * the chunk's float64 sums there; the rounded chunk is copied out.
 * @returns false (and changes nothing) where the module cannot run
 */
export function meanIntoWasm(dst: Float32Array, src: readonly Float32Array[], norm: readonly number[]): boolean {
  const k = meanKernel();
  if (!k) return false;
  const { mem } = k;
  const n = src.length;
  for (let off = 0; off < dst.length; off += CHUNK) {
    const end = Math.min(off + CHUNK, dst.length);
    const len = end - off;
    mem.set(src[0].subarray(off, end), IN);
    if (n === 1) k.only(len, 4 * OUT, 4 * IN, norm[0]);
    else {
      k.first(len, 4 * ACC, 4 * IN, norm[0]);
      for (let j = 1; j < n - 1; j++) {
        mem.set(src[j].subarray(off, end), IN);
        k.add(len, 4 * ACC, 4 * IN, norm[j]);
      }
      mem.set(src[n - 1].subarray(off, end), IN);
      k.last(len, 4 * OUT, 4 * ACC, 4 * IN, norm[n - 1]);
    }
    dst.set(mem.subarray(OUT, OUT + len), off);
  }
  return true;
}

/**
 * dst ← the weighted mean of `src` with weights `norm` (summing to 1): the
 * wasm kernel where it runs, else the JS loop. One update (a round of one
 * worker or shard, whose weight is exactly 1) takes the JS path's native copy,
 * which beats the kernel's copy in, pass and copy out (0.6 against 0.8 ms on
 * the `mlp` G).
 */
export function meanInto(dst: Float32Array, src: readonly Float32Array[], norm: readonly number[]): void {
  if (src.length === 1 || !meanIntoWasm(dst, src, norm)) meanIntoJs(dst, src, norm);
}
