import { tf } from '../tf';
import type { BackendRegistrar, ConcreteBackendName, DeviceDescribers } from './select-backend';
import { registerWasmMatMulKernels } from './wasm-batch-matmul';
import { registerWasmConvKernels } from './wasm-conv2d-backprop-filter';

/**
 * The browser's way to each backend. Everything is a dynamic import so a page
 * only downloads the backend it uses. @tensorflow/tfjs-backend-webgl is not a
 * dependency: webgl counts as available when the app has imported it (it
 * registers itself) or passes its own registrar.
 */

/** Browser preference for 'auto', fastest first (SYSTEM.md: webgpu ≫ webgl > wasm ≫ cpu). */
export const BROWSER_AUTO_ORDER: readonly ConcreteBackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

export interface BrowserBackendOptions {
  /** Where the tfjs-backend-wasm .wasm files are served (tfjs setWasmPaths: a prefix ending in '/', or a file map). */
  wasmPaths?: string | Record<string, string>;
  /** Limit for the WebGPU adapter request (ms). */
  adapterTimeoutMs?: number;
}

/** The slice of the WebGPU API this module needs (DOM lib types do not ship it). */
interface GpuAdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}
interface GpuLike {
  requestAdapter(opts?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<{ info?: GpuAdapterInfo } | null>;
}

/** navigator.gpu, or undefined where WebGPU does not exist (older browsers, Node before gan-node installs Dawn). */
export function navigatorGpu(): GpuLike | undefined {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  return nav?.gpu ?? undefined;
}

let webgpuAdapter: GpuAdapterInfo | undefined;

async function registerWebGpu(timeoutMs: number): Promise<boolean> {
  const gpu = navigatorGpu();
  if (!gpu) throw new Error('navigator.gpu is missing (no WebGPU here)');
  // Ask for the adapter ourselves first: tfjs's factory dereferences a null
  // adapter, which would surface as an opaque init failure.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const adapter = await Promise.race([
    gpu.requestAdapter({ powerPreference: 'high-performance' }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`requestAdapter timed out after ${timeoutMs} ms`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned no adapter (no usable GPU driver)');
  webgpuAdapter = adapter.info ?? {};
  // tfjs-backend-webgpu registers 'webgpu' on import, but only if navigator.gpu existed then.
  await import('@tensorflow/tfjs-backend-webgpu');
  return true;
}

async function registerWasm(paths: BrowserBackendOptions['wasmPaths']): Promise<boolean> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (paths !== undefined) wasm.setWasmPaths(paths);
  registerWasmConvKernels();
  registerWasmMatMulKernels();
  return true;
}

/** Browser registrars; a platform spreads its own over these. */
export function browserRegistrars(opts: BrowserBackendOptions = {}): BackendRegistrar {
  return {
    tensorflow: async () => {
      throw new Error('libtensorflow runs only in Node (use selectNodeBackend from @duel/gan-node)');
    },
    webgpu: () => registerWebGpu(opts.adapterTimeoutMs ?? 10_000),
    webgl: async () => {
      if (tf.findBackendFactory('webgl') == null) {
        throw new Error('@tensorflow/tfjs-backend-webgl is not installed (import it, or pass a webgl registrar)');
      }
      return true;
    },
    wasm: () => registerWasm(opts.wasmPaths),
    // ../tf imports @tensorflow/tfjs-backend-cpu, so cpu is always registered.
    cpu: async () => true,
  };
}

async function describeWasm(): Promise<string> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) ? 'simd' : 'no simd';
  const threads = wasm.getThreadsCount();
  return `wasm (${simd}, ${threads} thread${threads === 1 ? '' : 's'})`;
}

function describeWebGpu(): string {
  const fromTf = (tf.backend() as { adapterInfo?: GpuAdapterInfo }).adapterInfo ?? {};
  const info = { ...fromTf, ...webgpuAdapter };
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((p) => p);
  return `webgpu (${parts.length ? [...new Set(parts)].join(', ') : 'unknown adapter'})`;
}

function describeWebGl(): string {
  return `webgl (WebGL ${String(tf.env().get('WEBGL_VERSION'))})`;
}

export function browserDescribers(): DeviceDescribers {
  return { webgpu: describeWebGpu, webgl: describeWebGl, wasm: describeWasm, cpu: () => 'cpu (js)' };
}
