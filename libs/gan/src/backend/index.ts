export {
  BACKEND_NAMES,
  isBackendName,
  selectBackend,
  type BackendAttempt,
  type BackendName,
  type BackendRegistrar,
  type ConcreteBackendName,
  type DeviceDescribers,
  type SelectBackendOptions,
  type SelectedBackend,
} from './select-backend';
export { BROWSER_AUTO_ORDER, browserDescribers, browserRegistrars, navigatorGpu, type BrowserBackendOptions } from './browser-registrars';
export { verifyBackend } from './verify-backend';
export { registerWasmConvKernels } from './wasm-conv2d-backprop-filter';
export { registerWasmMatMulKernels } from './wasm-batch-matmul';
export { GAN_BACKWARD_KERNELS, GAN_FORWARD_KERNELS, kernelCoverage, type KernelCoverage } from './kernel-coverage';
