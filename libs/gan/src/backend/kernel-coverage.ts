import { tf } from '../tf';

/**
 * Kernels that duel's GAN step functions run: the ops of ../network and
 * ../losses forward, and the kernels their registered gradients call backward
 * (backwardNet, the written-out backward pass of the MLPs and dcgan, calls the same).
 * tfjs backends differ (wasm 4.22 shipped without Conv2DBackpropFilter), so a
 * backend is only fit for training when it has all of these.
 */
export const GAN_FORWARD_KERNELS: readonly string[] = [
  'BatchMatMul', 'Add', 'Sub', 'Multiply', 'RealDiv', 'Neg', 'Conv2D', 'Conv2DBackpropInput', 'Reshape',
  'Transpose', 'Concat', 'Relu', 'LeakyRelu', 'Prelu', 'Tanh', 'Sigmoid', 'Softplus', 'Mean', 'Sum', 'Square',
  'Sqrt', 'Maximum', 'Exp', 'Log', 'Log1p', 'Fill', 'Cast',
];

/** Kernels that only the backward pass calls (from tfjs-core's gradient functions). */
export const GAN_BACKWARD_KERNELS: readonly string[] = [
  'Conv2DBackpropFilter', 'Step', 'Select', 'Greater', 'GreaterEqual', 'Slice', 'SplitV', 'ZerosLike', 'OnesLike', 'Tile',
];

/** Forward kernels that are constants (Fill) or dtype plumbing (Cast): no gradient needed. */
const NO_GRADIENT_NEEDED = new Set(['Fill', 'Cast']);

export interface KernelCoverage {
  /** Kernels with no implementation on the backend. */
  missing: string[];
  /** Forward kernels with no registered gradient (backend-independent). */
  missingGradients: string[];
}

/** What `backendName` lacks to train duel's GANs. */
export function kernelCoverage(backendName: string): KernelCoverage {
  const all = [...GAN_FORWARD_KERNELS, ...GAN_BACKWARD_KERNELS];
  return {
    missing: all.filter((k) => tf.getKernel(k, backendName) == null),
    missingGradients: GAN_FORWARD_KERNELS.filter((k) => !NO_GRADIENT_NEEDED.has(k) && tf.getGradient(k) == null),
  };
}
