import { DuelError, ErrorCodes } from '@duel/util';
import { tf } from '../tf';

/**
 * Helpers for kernels that duel adds to the wasm backend by composing the
 * backend's own kernels (XNNPACK convolution, transpose, matmul). They run one
 * kernel function directly, as tfjs backends do internally, instead of tf ops:
 * no gradient tape, no engine scope, and every intermediate is a plain
 * TensorInfo that we free with disposeData.
 */

/** Runs the wasm backend's own kernel `name` and returns its output. */
export function runWasmKernel(
  name: string,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap,
  backend: tf.KernelBackend,
): tf.TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (kernel == null) {
    throw new DuelError(ErrorCodes.BACKEND_UNAVAILABLE, `the wasm backend has no ${name} kernel; import @tensorflow/tfjs-backend-wasm first`);
  }
  return kernel.kernelFunc({ inputs, attrs, backend }) as tf.TensorInfo;
}

/** Frees intermediates made by runWasmKernel (each has refCount 1). */
export function disposeInfos(backend: tf.KernelBackend, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/** Registers `config` unless a kernel of that name already exists for its backend. */
export function registerKernelOnce(config: tf.KernelConfig): boolean {
  if (tf.getKernel(config.kernelName, config.backendName) != null) return false;
  tf.registerKernel(config);
  return true;
}

const setUp = new WeakMap<tf.KernelConfig, WeakSet<object>>();

/**
 * Runs a stock kernel that duel unregistered to put its own in its place. An
 * unregistered kernel misses tfjs's per-backend setup, where the stock one
 * binds its wasm function, so it runs that setup once per backend first.
 */
export function runOriginal(config: tf.KernelConfig, args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap }, backend: tf.KernelBackend): tf.TensorInfo {
  let done = setUp.get(config);
  if (!done) setUp.set(config, (done = new WeakSet()));
  if (!done.has(backend)) {
    config.setupFunc?.(backend);
    done.add(backend);
  }
  return config.kernelFunc({ ...args, backend }) as tf.TensorInfo;
}
