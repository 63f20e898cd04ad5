import { sizeOf, type NamedWeights, type TensorSpec } from '@duel/util';
import { ADAM_KERNEL_WASM_BASE64 } from './adam-kernel.wasm';
import { compileKernel, instantiateKernel } from './wasm-module';

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
 * Values per array per kernel call. Arrays outside a module's memory pass
 * through it in chunks; 4 arrays × 32 KiB keep a chunk in L2 between the
 * copy in, the kernel and the copy out.
 */
const CHUNK = 8192;

/** One instance of the module with its own memory, which never grows (so views of it stay valid). */
interface Instance {
  mem: Float32Array;
  adam: AdamExport;
  /** Float offsets of the chunk buffers for w and g (and, in the shared scratch instance, m and v). */
  w: number;
  g: number;
  m: number;
  v: number;
}

/** undefined: not tried yet; null: unavailable here. */
let compiled: WebAssembly.Module | null | undefined;

/** An instance over a fresh memory of at least `floats` float32 values, or null. */
function instantiate(floats: number): { memory: WebAssembly.Memory; adam: AdamExport } | null {
  if (compiled === undefined) compiled = compileKernel(ADAM_KERNEL_WASM_BASE64);
  const made = instantiateKernel(compiled, 4 * floats);
  return made && { memory: made.memory, adam: made.exports['adam'] as AdamExport };
}

/** The instance that every array outside a module's memory passes through. */
let scratch: Instance | null | undefined;

function scratchInstance(): Instance | null {
  if (scratch !== undefined) return scratch;
  const made = instantiate(4 * CHUNK);
  scratch = made && { mem: new Float32Array(made.memory.buffer), adam: made.adam, w: 0, g: CHUNK, m: 2 * CHUNK, v: 3 * CHUNK };
  return scratch;
}

/** Arrays made by {@link createAdamMoments} (moments and weight buffers), and the instance whose memory holds each. */
const resident = new WeakMap<Float32Array, Instance>();

const align4 = (n: number) => (n + 3) & ~3;

/**
 * Zero Adam moments m and v for `specs`, and zero buffers w for the weights
 * they step, that live in a memory of their own with an instance of the
 * kernel. A step then copies only g through it: 1 copy of each value (g in)
 * instead of 7 (all four arrays in, w, m and v out), or 3 when the weights
 * are elsewhere (g in, w in and out). Each array
 * starts 16-aligned and is padded to 4 values, where the kernel's last lanes
 * land. They are ordinary Float32Arrays otherwise (views with a byteOffset).
 * Null where the module cannot run: the caller allocates plain arrays.
 */
export function createAdamMoments(specs: readonly TensorSpec[]): { m: NamedWeights; v: NamedWeights; w: NamedWeights } | null {
  const offsets: number[] = [];
  let floats = 0;
  for (let pass = 0; pass < 3; pass++) {
    for (const s of specs) {
      offsets.push(floats);
      floats += align4(sizeOf(s.shape));
    }
  }
  const made = instantiate(floats + 2 * CHUNK);
  if (!made) return null;
  const buffer = made.memory.buffer;
  const inst: Instance = { mem: new Float32Array(buffer), adam: made.adam, w: floats, g: floats + CHUNK, m: -1, v: -1 };
  const views = (pass: number) =>
    specs.map((s, i) => {
      const data = new Float32Array(buffer, 4 * offsets[pass * specs.length + i], sizeOf(s.shape));
      resident.set(data, inst);
      return { name: s.name, shape: [...s.shape], data };
    });
  return { m: views(0), v: views(1), w: views(2) };
}

/** Which loop {@link adamTensor} runs in this engine. */
export function adamKernelName(): 'wasm-simd' | 'js' {
  return scratchInstance() ? 'wasm-simd' : 'js';
}

/**
 * {@link adamTensorJs} in WebAssembly SIMD, bit for bit the same.
 * @returns false (and changes nothing) where the module cannot run
 */
export function adamTensorWasm(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, s: AdamScalars): boolean {
  const home = resident.get(m);
  if (home && resident.get(v) === home) {
    // m and v stay where they are; so do weights that live beside them (adoptWeights), else w passes through a chunk buffer; g always does.
    const { mem, adam } = home;
    const wHome = resident.get(w) === home;
    for (let off = 0; off < w.length; off += CHUNK) {
      const end = Math.min(off + CHUNK, w.length);
      const n = end - off;
      if (!wHome) mem.set(w.subarray(off, end), home.w);
      mem.set(g.subarray(off, end), home.g);
      adam(n, wHome ? w.byteOffset + 4 * off : 4 * home.w, 4 * home.g, m.byteOffset + 4 * off, v.byteOffset + 4 * off, s.b1, s.b2, s.omb1, s.omb2, s.corr1, s.corr2, s.eps, s.negLr);
      if (!wHome) w.set(mem.subarray(home.w, home.w + n), off);
    }
    return true;
  }
  const k = scratchInstance();
  if (!k) return false;
  const { mem, adam } = k;
  for (let off = 0; off < w.length; off += CHUNK) {
    const end = Math.min(off + CHUNK, w.length);
    const n = end - off;
    mem.set(w.subarray(off, end), k.w);
    mem.set(g.subarray(off, end), k.g);
    mem.set(m.subarray(off, end), k.m);
    mem.set(v.subarray(off, end), k.v);
    adam(n, 4 * k.w, 4 * k.g, 4 * k.m, 4 * k.v, s.b1, s.b2, s.omb1, s.omb2, s.corr1, s.corr2, s.eps, s.negLr);
    w.set(mem.subarray(k.w, k.w + n), off);
    m.set(mem.subarray(k.m, k.m + n), off);
    v.set(mem.subarray(k.v, k.v + n), off);
  }
  return true;
}

/** One Adam step on one tensor: the wasm kernel where it runs, else the JS loop. */
export function adamTensor(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, s: AdamScalars): void {
  if (!adamTensorWasm(w, g, m, v, s)) adamTensorJs(w, g, m, v, s);
}
