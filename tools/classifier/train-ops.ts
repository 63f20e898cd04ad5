import * as tf from '@tensorflow/tfjs-core';
import type { MnistCnnOps } from '@duel/eval';

/**
 * Kernels for training the classifier on the wasm backend with gradients that
 * avoid its gaps: tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter (and the cpu
 * backend's is seconds per layer), its MaxPoolGrad is slow, and a MatMul with a
 * transposed first operand falls off the fast XNNPACK path (300 ms vs 25 ms for
 * 12544×400×32 on this VM). Forward values equal `inferenceOps`.
 */

/**
 * Stride-1 'same' conv2d (odd kernel) whose gradient uses only forward Conv2D:
 * - dx = conv(dy, flip₁₈₀(W) with in/out swapped), 'same' (the transposed conv at stride 1).
 * - dW[i, j, c, o] = Σ_{n,h,w} x_pad[n, h+i, w+j, c] · dy[n, h, w, o]: a 'valid' conv
 *   of x_pad laid out [C, H+2p, W+2p, N] with dy laid out [H, W, N, O] as the filter,
 *   giving [C, k, k, O]: the "filter gradient as a forward conv of transposed x and
 *   dy" of SYSTEM.md, with dilation = stride = 1.
 */
const conv = tf.customGrad((...args: unknown[]) => {
  const [x, w, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.conv2d(x, w, 1, 'same'),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
      const dy4 = dy as tf.Tensor4D;
      const p = (ws.shape[0] - 1) / 2;
      const wFlip = tf.transpose(tf.reverse(ws, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
      const dx = tf.conv2d(dy4, wFlip, 1, 'same');
      const xt = tf.transpose(tf.pad(xs, [[0, 0], [p, p], [p, p], [0, 0]]), [3, 1, 2, 0]) as tf.Tensor4D;
      const dyt = tf.transpose(dy4, [1, 2, 0, 3]) as tf.Tensor4D;
      const dw = tf.transpose(tf.conv2d(xt, dyt, 1, 'valid'), [1, 2, 0, 3]);
      return [dx, dw];
    },
  };
}) as unknown as MnistCnnOps['conv'];

/** a·b with da = dy·bᵀ and db = (aᵀ materialised)·dy, keeping both on the fast path. */
const matMul = tf.customGrad((...args: unknown[]) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [as, bs] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(bs)), tf.matMul(tf.transpose(as), dy as tf.Tensor2D)];
    },
  };
}) as unknown as MnistCnnOps['matMul'];

/**
 * 2×2/2 max-pool whose gradient routes dy to the window maxima with same-shape
 * elementwise ops (2× nearest upsampling, Equal, Multiply); wasm's MaxPoolGrad and
 * its broadcasting Equal are both slow. Ties share the gradient, as tf.max's does.
 */
const pool = tf.customGrad((...args: unknown[]) => {
  const [x, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
  const y = tf.maxPool(x, 2, 2, 'valid');
  save([x, y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ys] = saved as [tf.Tensor4D, tf.Tensor4D];
      const size: [number, number] = [xs.shape[1], xs.shape[2]];
      const up = (t: tf.Tensor4D) => tf.image.resizeNearestNeighbor(t, size);
      return [tf.mul(tf.cast(tf.equal(xs, up(ys)), 'float32'), up(dy as tf.Tensor4D))];
    },
  };
}) as unknown as MnistCnnOps['pool'];

export const trainOps: MnistCnnOps = { conv, matMul, pool };
