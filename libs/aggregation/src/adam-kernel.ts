import { ADAM_KERNEL_WASM_BASE64 } from './adam-kernel.wasm';

/**
 * The inner loop of {@link adamStep} for one tensor, twice: in WebAssembly
 * SIMD (adam-kernel.wat), and in plain JS as the fallback where WebAssembly or
 * its SIMD proposal is missing. The two agree bit for bit (the spec checks it
 * on random and edge-case values): both do the same float32 operations in the
 * same order, and IEEE float32 add, mul, div and sqrt are correctly rounded,
 * so `Math.fround` of the float64 result is the float32 result.
 */

/** The float32 scalars of one Adam step; every field already rounded with `Math.fround`. */
export interface AdamScalars {
  b1: number;
  b2: number;
  /** 1 − β1 and 1 − β2, as tfjs computes them (in float64, then rounded). */
  omb1: number;
  omb2: number;
  /** Bias corrections 1 − β1^t and 1 − β2^t from the float32 running products. */
  corr1: number;
  corr2: number;
  eps: number;
  /** −lr */
  negLr: number;
}

/**
 * w, m, v ← one Adam step with gradient g, in place; all four of one length.
 * `Math.fround` after every op reproduces tfjs's float32 cpu kernels.
 */
export function adamTensorJs(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, s: AdamScalars): void {
  const f = Math.fround;
  const { b1, b2, omb1, omb2, corr1, corr2, eps, negLr } = s;
  for (let i = 0; i < w.length; i++) {
    const gi = g[i];
    const mi = f(f(m[i] * b1) + f(gi * omb1));
    const vi = f(f(v[i] * b2) + f(f(gi * gi) * omb2));
    m[i] = mi;
    v[i] = vi;
    const mHat = f(mi / corr1);
    const vHat = f(vi / corr2);
    const step = f(f(mHat / f(f(Math.sqrt(vHat)) + eps)) * negLr);
    w[i] = step + w[i];
  }
}

type AdamExport = (
  n: number, w: number, g: number, m: number, v: number,
  b1: number, b2: number, omb1: number, omb2: number, corr1: number, corr2: number, eps: number, negLr: number,
) => void;

/**
 * Values per array per kernel call. The tensors stay in JS memory and pass
 * through the module's 256 KiB in chunks; 4 arrays × 32 KiB keep a chunk in
 * L2 between the copy in, the kernel and the copy out.
 */
const CHUNK = 8192;
const W = 0;
const G = CHUNK;
const M = 2 * CHUNK;
const V = 3 * CHUNK;

interface Kernel {
  /** A view of the module's memory, which never grows (so the view stays valid). */
  mem: Float32Array;
  adam: AdamExport;
}

/** undefined: not tried yet; null: unavailable here. */
let kernel: Kernel | null | undefined;

function base64Bytes(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Compiles the module on first use (295 bytes: synchronous compilation is allowed on a browser's main thread too). */
function loadKernel(): Kernel | null {
  if (kernel !== undefined) return kernel;
  kernel = null;
  try {
    if (typeof WebAssembly !== 'object' || typeof atob !== 'function') return null;
    const bytes = base64Bytes(ADAM_KERNEL_WASM_BASE64);
    // An engine without SIMD rejects the module: use the JS loop.
    if (!WebAssembly.validate(bytes)) return null;
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    const memory = exports['memory'] as WebAssembly.Memory;
    if (memory.buffer.byteLength < 4 * 4 * CHUNK) return null;
    kernel = { mem: new Float32Array(memory.buffer), adam: exports['adam'] as AdamExport };
  } catch {
    kernel = null; // e.g. a Content-Security-Policy without 'wasm-unsafe-eval'
  }
  return kernel;
}

/** Which loop {@link adamTensor} runs in this engine. */
export function adamKernelName(): 'wasm-simd' | 'js' {
  return loadKernel() ? 'wasm-simd' : 'js';
}

/**
 * {@link adamTensorJs} in WebAssembly SIMD, bit for bit the same.
 * @returns false (and changes nothing) where the module cannot run
 */
export function adamTensorWasm(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, s: AdamScalars): boolean {
  const k = loadKernel();
  if (!k) return false;
  const { mem, adam } = k;
  for (let off = 0; off < w.length; off += CHUNK) {
    const end = Math.min(off + CHUNK, w.length);
    const n = end - off;
    mem.set(w.subarray(off, end), W);
    mem.set(g.subarray(off, end), G);
    mem.set(m.subarray(off, end), M);
    mem.set(v.subarray(off, end), V);
    adam(n, 4 * W, 4 * G, 4 * M, 4 * V, s.b1, s.b2, s.omb1, s.omb2, s.corr1, s.corr2, s.eps, s.negLr);
    w.set(mem.subarray(W, W + n), off);
    m.set(mem.subarray(M, M + n), off);
    v.set(mem.subarray(V, V + n), off);
  }
  return true;
}

/** One Adam step on one tensor: the wasm kernel where it runs, else the JS loop. */
export function adamTensor(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, s: AdamScalars): void {
  if (!adamTensorWasm(w, g, m, v, s)) adamTensorJs(w, g, m, v, s);
}
