import * as tf from '@tensorflow/tfjs-core';
import type { TensorSpec } from '@duel/util';

/**
 * The MNIST classifier behind the classifier score and the Fréchet distance: a
 * LeNet-style CNN (LeCun et al. 1998), widened a little and with ReLU and max-pooling:
 *
 *   x [N, 28, 28, 1] in [-1, 1]
 *   → conv 5×5×16 'same' + ReLU → max-pool 2 → [N, 14, 14, 16]
 *   → conv 5×5×32 'same' + ReLU → max-pool 2 → [N, 7, 7, 32] → flatten [N, 1568]
 *   → dense 128 + ReLU = features [N, 128]   (the Fréchet distance's space)
 *   → dense 10 = logits [N, 10]
 *
 * 215,546 parameters. Kernels are [kh, kw, in, out] and dense weights [in, out],
 * as tf.conv2d and tf.matMul take them.
 */
export const MNIST_CNN_SPECS: readonly TensorSpec[] = [
  { name: 'conv1/kernel', shape: [5, 5, 1, 16] },
  { name: 'conv1/bias', shape: [16] },
  { name: 'conv2/kernel', shape: [5, 5, 16, 32] },
  { name: 'conv2/bias', shape: [32] },
  { name: 'fc1/kernel', shape: [7 * 7 * 32, 128] },
  { name: 'fc1/bias', shape: [128] },
  { name: 'fc2/kernel', shape: [128, 10] },
  { name: 'fc2/bias', shape: [10] },
];

/** Width of the penultimate layer. */
export const MNIST_CNN_FEATURES = 128;
export const MNIST_CLASSES = 10;

/** Parameters in MNIST_CNN_SPECS order. */
export type MnistCnnParams = readonly tf.Tensor[];

/**
 * The three kernels of the network. Inference uses tf's own; training may swap in
 * versions with hand-written gradients, because on the wasm backend
 * Conv2DBackpropFilter is missing and MaxPoolGrad and transposed MatMul are slow.
 * Every variant must compute the same forward values.
 */
export interface MnistCnnOps {
  /** Stride-1 'same' conv: x [N, H, W, Cin] * kernel [k, k, Cin, Cout] → [N, H, W, Cout]. */
  conv: (x: tf.Tensor4D, kernel: tf.Tensor4D) => tf.Tensor4D;
  /** 2×2 max-pool, stride 2: [N, H, W, C] → [N, H/2, W/2, C]. */
  pool: (x: tf.Tensor4D) => tf.Tensor4D;
  /** [N, in] × [in, out] → [N, out]. */
  matMul: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;
}

export const inferenceOps: MnistCnnOps = {
  conv: (x, k) => tf.conv2d(x, k, 1, 'same'),
  pool: (x) => tf.maxPool(x, 2, 2, 'valid'),
  matMul: (a, b) => tf.matMul(a, b),
};

/**
 * Penultimate features. Call inside tf.tidy.
 * @param x [N, 28, 28, 1], pixels in [-1, 1]
 * @returns [N, 128], post-ReLU
 */
export function mnistCnnFeatures(p: MnistCnnParams, x: tf.Tensor4D, ops: MnistCnnOps = inferenceOps): tf.Tensor2D {
  const block = (h: tf.Tensor4D, k: tf.Tensor, b: tf.Tensor) =>
    ops.pool(tf.relu(tf.add(ops.conv(h, k as tf.Tensor4D), b)) as tf.Tensor4D);
  const h1 = block(x, p[0], p[1]);
  const h2 = block(h1, p[2], p[3]);
  const flat = tf.reshape(h2, [x.shape[0], 7 * 7 * 32]) as tf.Tensor2D;
  return tf.relu(tf.add(ops.matMul(flat, p[4] as tf.Tensor2D), p[5])) as tf.Tensor2D;
}

/**
 * Class logits from features. Call inside tf.tidy.
 * @param features [N, 128]
 * @returns [N, 10]
 */
export function mnistCnnLogits(p: MnistCnnParams, features: tf.Tensor2D, ops: MnistCnnOps = inferenceOps): tf.Tensor2D {
  return tf.add(ops.matMul(features, p[6] as tf.Tensor2D), p[7]) as tf.Tensor2D;
}
