import { selectBackend, type BackendName, type ConcreteBackendName, type SelectBackendOptions, type SelectedBackend } from '@duel/gan';
import { describeTensorflow, registerTensorflow } from './tensorflow-registrar';
import { registerNodeWasm } from './wasm-registrar';
import { registerNodeWebGpu, type NodeWebGpuOptions } from './webgpu-registrar';

/** Node preference for 'auto': libtensorflow (CUDA) → WebGPU on Dawn → wasm → cpu. */
export const NODE_AUTO_ORDER: readonly ConcreteBackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

export type SelectNodeBackendOptions = SelectBackendOptions & NodeWebGpuOptions;

/**
 * selectBackend with Node's registrars: tfjs-node(-gpu) when it loads, WebGPU
 * through Dawn, wasm with its binaries found in node_modules, and cpu. Throws
 * DUEL_ERR_BACKEND_UNAVAILABLE (with the reason) when an explicit choice is
 * unavailable. Call releaseNodeWebGpu() before exit when webgpu was picked.
 */
export function selectNodeBackend(pref: BackendName, opts: SelectNodeBackendOptions = {}): Promise<SelectedBackend> {
  return selectBackend(pref, {
    ...opts,
    order: opts.order ?? NODE_AUTO_ORDER,
    registrars: {
      tensorflow: registerTensorflow,
      webgpu: () => registerNodeWebGpu({ dawnFlags: opts.dawnFlags, adapterTimeoutMs: opts.adapterTimeoutMs }),
      wasm: registerNodeWasm,
      ...opts.registrars,
    },
    describers: { tensorflow: describeTensorflow, ...opts.describers },
  });
}
