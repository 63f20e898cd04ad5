import { tf } from './tf';
import type { LayerSpec, NetSpec } from './spec';

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

/** Layer types whose backward pass backwardNet writes out; a net of only these can be traced. */
const TRACEABLE = new Set<LayerSpec['type']>(['dense', 'conv2d', 'conv2dTranspose', 'relu', 'leakyRelu', 'tanh', 'scale', 'reshape', 'flatten']);

/** Whether forwardNetTraced / backwardNet cover every layer of `spec` (all but a net with minibatch std). */
export function isTraceable(spec: NetSpec): boolean {
  return spec.layers.every((l) => TRACEABLE.has(l.type));
}

/**
 * A forward pass kept for a later backward pass: per layer, the one tensor
 * its gradient reads (a dense or conv layer's input, an activation's input,
 * tanh's output), in layer order, and the input shape of each reshape.
 */
export interface NetTrace {
  readonly saved: readonly tf.Tensor[];
  readonly shapes: readonly number[][];
}

/**
 * forwardNet that also returns what backwardNet needs, for nets of
 * TRACEABLE layers. The same ops in the same order as forwardNet, so `out`
 * is bit for bit forwardNet's. Call inside tf.tidy.
 */
export function forwardNetTraced(spec: NetSpec, params: readonly tf.Tensor[], x: tf.Tensor): { out: tf.Tensor; trace: NetTrace } {
  const saved: tf.Tensor[] = [];
  const shapes: number[][] = [];
  let h = x;
  let p = 0;
  for (const layer of spec.layers) {
    switch (layer.type) {
      case 'dense':
        saved.push(h);
        h = tf.add(tf.matMul(h as tf.Tensor2D, params[p++] as tf.Tensor2D), params[p++]);
        break;
      case 'conv2d':
      case 'conv2dTranspose': {
        saved.push(h);
        // forwardNet's layer itself: the same ops on the same tensors.
        h = forwardNet({ input: h.shape.slice(1), layers: [layer] }, [params[p], params[p + 1]], h);
        p += 2;
        break;
      }
      case 'relu':
        saved.push(h);
        h = tf.relu(h);
        break;
      case 'leakyRelu':
        saved.push(h);
        h = tf.leakyRelu(h, layer.alpha);
        break;
      case 'tanh':
        h = tf.tanh(h);
        saved.push(h);
        break;
      case 'scale':
        h = tf.mul(h, layer.factor);
        break;
      case 'reshape':
      case 'flatten':
        shapes.push(h.shape);
        h = tf.reshape(h, layer.type === 'flatten' ? [h.shape[0], -1] : [h.shape[0], ...layer.shape]);
        break;
      default:
        throw new Error(`forwardNetTraced: no backward pass for a ${layer.type} layer (isTraceable)`);
    }
  }
  return { out: h, trace: { saved, shapes } };
}

/**
 * The vector-Jacobian product of forwardNetTraced's pass: ∂(Σ dy·out)/∂params,
 * in canonical order. Each layer's backward is the op tfjs's own gradient
 * registry applies to it (Add, BatchMatMul, Conv2D, Conv2DBackpropInput, Relu,
 * LeakyRelu, Tanh, Multiply, Reshape in tfjs-core's gradients/), with the
 * same kernels and attributes, so the result is bit for bit what
 * tf.grads gives through forwardNet; steps.spec.ts holds it to that. The
 * input's own gradient is not formed. Call inside tf.tidy.
 */
export function backwardNet(spec: NetSpec, params: readonly tf.Tensor[], trace: NetTrace, dy: tf.Tensor): tf.Tensor[] {
  const grads: tf.Tensor[] = new Array(params.length);
  let g = dy;
  let p = params.length;
  let s = trace.saved.length;
  let r = trace.shapes.length;
  for (let i = spec.layers.length - 1; i >= 0 && p > 0; i--) {
    const layer = spec.layers[i];
    switch (layer.type) {
      case 'dense': {
        const b = --p;
        const w = --p;
        const input = trace.saved[--s];
        grads[b] = tf.reshape(tf.sum(g, 0), params[b].shape);
        grads[w] = tf.matMul(input as tf.Tensor2D, g as tf.Tensor2D, true, false);
        if (p > 0) g = tf.matMul(g as tf.Tensor2D, params[w] as tf.Tensor2D, false, true);
        break;
      }
      case 'conv2d': {
        // Conv2D_grad: filter = conv2DBackpropFilter(x, dy), x = conv2DBackpropInput(x.shape, dy, filter).
        const b = --p;
        const w = --p;
        const input = trace.saved[--s] as tf.Tensor4D;
        const filter = params[w] as tf.Tensor4D;
        grads[b] = tf.reshape(tf.sum(g, [0, 1, 2]), params[b].shape);
        grads[w] = conv2dBackpropFilter(input, g as tf.Tensor4D, filter.shape, layer.stride, layer.padding);
        if (p > 0) g = tf.conv2dTranspose(g as tf.Tensor4D, filter, input.shape, layer.stride, layer.padding);
        break;
      }
      case 'conv2dTranspose': {
        // Conv2DBackpropInput_grad (the op conv2dTranspose runs): its dy (our input) = conv2d(ddx, filter),
        // filter = conv2DBackpropFilter(ddx, dy).
        const b = --p;
        const w = --p;
        const input = trace.saved[--s] as tf.Tensor4D;
        const filter = params[w] as tf.Tensor4D;
        grads[b] = tf.reshape(tf.sum(g, [0, 1, 2]), params[b].shape);
        grads[w] = conv2dBackpropFilter(g as tf.Tensor4D, input, filter.shape, layer.stride, layer.padding);
        if (p > 0) g = tf.conv2d(g as tf.Tensor4D, filter, layer.stride, layer.padding);
        break;
      }
      case 'relu':
        g = tf.mul(g, tf.cast(tf.step(trace.saved[--s]), 'float32'));
        break;
      case 'leakyRelu':
        g = tf.where(tf.greater(trace.saved[--s], 0), g, tf.mul(g, layer.alpha));
        break;
      case 'tanh':
        g = tf.mul(tf.sub(tf.scalar(1), tf.square(trace.saved[--s])), g);
        break;
      case 'scale':
        g = tf.mul(g, tf.cast(tf.scalar(layer.factor), 'float32'));
        break;
      case 'reshape':
      case 'flatten':
        g = tf.reshape(g, trace.shapes[--r]);
        break;
      default:
        throw new Error(`backwardNet: no backward pass for a ${layer.type} layer (isTraceable)`);
    }
  }
  return grads;
}

/**
 * tfjs-core's conv2DBackpropFilter op, which it does not export: the kernel
 * with the attributes Conv2D's and Conv2DBackpropInput's gradients pass it.
 */
function conv2dBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: readonly number[], stride: number, pad: 'same' | 'valid'): tf.Tensor {
  return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: stride, pad, dataFormat: 'NHWC', filterShape: [...filterShape] }) as tf.Tensor;
}
