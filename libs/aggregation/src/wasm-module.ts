/**
 * Compiling and instantiating the aggregation's WebAssembly kernels
 * (adam-kernel, mean-kernel): each module is a few hundred bytes, carried as
 * base64, imports one memory and uses SIMD. Where WebAssembly or its SIMD
 * proposal is missing, or a Content-Security-Policy forbids compiling, these
 * return null and the caller runs its JS loop, which gives the same bits.
 */

const PAGE_BYTES = 65536;

function base64Bytes(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * The compiled module of `base64`, or null where it cannot run. Compiles
 * synchronously (allowed on a browser's main thread for modules this small);
 * the caller keeps the result.
 */
export function compileKernel(base64: string): WebAssembly.Module | null {
  try {
    if (typeof WebAssembly !== 'object' || typeof atob !== 'function') return null;
    const bytes = base64Bytes(base64);
    // An engine without SIMD rejects the module: use the JS loop.
    return WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  } catch {
    return null; // e.g. a Content-Security-Policy without 'wasm-unsafe-eval'
  }
}

/** An instance of `mod` over a fresh memory of at least `bytes` bytes (it never grows, so views of it stay valid), or null. */
export function instantiateKernel(mod: WebAssembly.Module | null, bytes: number): { memory: WebAssembly.Memory; exports: WebAssembly.Exports } | null {
  if (!mod) return null;
  try {
    const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / PAGE_BYTES)) });
    return { memory, exports: new WebAssembly.Instance(mod, { env: { memory } }).exports };
  } catch {
    return null; // out of memory or address space: the caller falls back
  }
}
