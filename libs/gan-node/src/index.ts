export { NODE_AUTO_ORDER, selectNodeBackend, type SelectNodeBackendOptions } from './select-node-backend';
export { describeTensorflow, loadedTensorflowPackage, registerTensorflow } from './tensorflow-registrar';
export { installNodeWebGpu, registerNodeWebGpu, releaseNodeWebGpu, type NodeWebGpuOptions } from './webgpu-registrar';
export { registerNodeWasm } from './wasm-registrar';
