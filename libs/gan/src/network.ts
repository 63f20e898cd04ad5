import { tf } from './tf';
import type { NetSpec } from './spec';

/**
 * Runs a net spec forward on explicit parameter tensors (canonical order), so
 * the same function serves gradient steps (tf.grads over the params) and
 * sampling. Call inside tf.tidy or a gradient closure.
 *
 * @param x [B, ...spec.input]
 * @returns [B, ...outputShape]
 */
export function forwardNet(spec: NetSpec, params: readonly tf.Tensor[], x: tf.Tensor): tf.Tensor {
  let h = x;
  let p = 0;
  for (const layer of spec.layers) {
    switch (layer.type) {
      case 'dense': {
        const w = params[p++] as tf.Tensor2D;
        const b = params[p++];
        h = tf.add(tf.matMul(h as tf.Tensor2D, w), b);
        break;
      }
      case 'conv2d': {
        const w = params[p++] as tf.Tensor4D;
        const b = params[p++];
        h = tf.add(tf.conv2d(h as tf.Tensor4D, w, layer.stride, layer.padding), b);
        break;
      }
      case 'conv2dTranspose': {
        const w = params[p++] as tf.Tensor4D;
        const b = params[p++];
        const [batch, height, width] = h.shape;
        const out: [number, number, number, number] = [batch, height! * layer.stride, width! * layer.stride, w.shape[2]];
        h = tf.add(tf.conv2dTranspose(h as tf.Tensor4D, w, out, layer.stride, layer.padding), b);
        break;
      }
      case 'reshape':
        h = tf.reshape(h, [h.shape[0], ...layer.shape]);
        break;
      case 'flatten':
        h = tf.reshape(h, [h.shape[0], -1]);
        break;
      case 'relu':
        h = tf.relu(h);
        break;
      case 'leakyRelu':
        h = tf.leakyRelu(h, layer.alpha);
        break;
      case 'tanh':
        h = tf.tanh(h);
        break;
      case 'scale':
        h = tf.mul(h, layer.factor);
        break;
      case 'minibatchStd':
        h = minibatchStd(h as tf.Tensor2D);
        break;
    }
  }
  return h;
}

/**
 * Karras et al. 2018 §3: the std of each feature over the batch, averaged over
 * features, appended to every sample as one extra feature.
 * @param h [B, F] → [B, F + 1]
 */
export function minibatchStd(h: tf.Tensor2D): tf.Tensor2D {
  const mean = tf.mean(h, 0, true);
  const variance = tf.mean(tf.square(tf.sub(h, mean)), 0);
  const std = tf.mean(tf.sqrt(tf.add(variance, 1e-8)));
  const col = tf.mul(tf.ones([h.shape[0], 1]), std);
  return tf.concat([h, col], 1) as tf.Tensor2D;
}

/**
 * PacGAN packing (Lin et al. 2018): m consecutive samples become one D input,
 * concatenated along the last axis.
 * @param x [B, ...dataShape] with B divisible by m → [B/m, ...dataShape with last axis × m]
 */
export function packSamples(x: tf.Tensor, m: number): tf.Tensor {
  if (m === 1) return x;
  const [b, ...rest] = x.shape;
  if (rest.length === 1) return tf.reshape(x, [b / m, rest[0] * m]);
  const grouped = tf.reshape(x, [b / m, m, ...rest]);
  // [B/m, m, H, W, C] → [B/m, H, W, m, C] → [B/m, H, W, m·C]
  const perm = [0, ...rest.map((_, i) => i + 2).slice(0, -1), 1, rest.length + 1];
  const moved = tf.transpose(grouped, perm);
  const last = rest[rest.length - 1] * m;
  return tf.reshape(moved, [b / m, ...rest.slice(0, -1), last]);
}
