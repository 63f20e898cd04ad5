import * as tf from '@tensorflow/tfjs-core';
import { MNIST_CNN_SPECS, type MnistCnnOps } from '@duel/eval';
import { Rng, sizeOf, type NamedWeights } from '@duel/util';

/**
 * The training-time form of the eval classifier: the same layers with batch
 * normalisation (Ioffe & Szegedy 2015) after conv1, conv2 and fc1, which makes
 * 5 epochs enough on this slow CPU. BN is affine at inference, so `foldBatchNorm`
 * folds it into the kernels and biases of MNIST_CNN_SPECS and the committed
 * network has no BN layers at all.
 */

const BN_EPS = 1e-3;
/** Running statistics follow the batch ones with this EMA momentum. */
const BN_MOMENTUM = 0.95;

/** Layers that carry BN: [kernel name, output channels]. */
const BN_LAYERS = [
  ['conv1', 16],
  ['conv2', 32],
  ['fc1', 128],
] as const;

export interface BnNetwork {
  /** conv1, conv2, fc1 kernels (no bias: BN's β replaces it), then fc2 kernel and bias. */
  kernels: { conv1: tf.Variable; conv2: tf.Variable; fc1: tf.Variable; fc2: tf.Variable; fc2Bias: tf.Variable };
  /** γ and β per BN layer. */
  gamma: Record<(typeof BN_LAYERS)[number][0], tf.Variable>;
  beta: Record<(typeof BN_LAYERS)[number][0], tf.Variable>;
  /** Running mean and variance per BN layer (plain arrays; not trained). */
  running: Record<(typeof BN_LAYERS)[number][0], { mean: Float32Array; variance: Float32Array }>;
  trainable: tf.Variable[];
}

/** He-normal kernels (He et al. 2015, for ReLU), γ = 1, β = 0. */
export function createBnNetwork(seed: number): BnNetwork {
  const rng = new Rng(seed);
  const spec = (name: string) => MNIST_CNN_SPECS.find((s) => s.name === name)!.shape;
  const heNormal = (name: string) => {
    const shape = spec(name);
    const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    return tf.variable(tf.tensor(rng.fillNormal(new Float32Array(sizeOf(shape)), 0, Math.sqrt(2 / fanIn)), shape));
  };
  const kernels = {
    conv1: heNormal('conv1/kernel'),
    conv2: heNormal('conv2/kernel'),
    fc1: heNormal('fc1/kernel'),
    fc2: heNormal('fc2/kernel'),
    fc2Bias: tf.variable(tf.zeros([10])),
  };
  const per = <T>(f: (c: number) => T) =>
    Object.fromEntries(BN_LAYERS.map(([name, c]) => [name, f(c)])) as Record<(typeof BN_LAYERS)[number][0], T>;
  const gamma = per((c) => tf.variable(tf.ones([c])));
  const beta = per((c) => tf.variable(tf.zeros([c])));
  const running = per((c) => ({ mean: new Float32Array(c), variance: new Float32Array(c).fill(1) }));
  return { kernels, gamma, beta, running, trainable: [...Object.values(kernels), ...Object.values(gamma), ...Object.values(beta)] };
}

/**
 * Training forward pass with batch statistics. Call inside tf.tidy / an optimizer.
 * @param x [N, 28, 28, 1]
 * @param moments receives each BN layer's batch mean and variance (kept tensors; the caller disposes them)
 * @returns features [N, 128] (post-ReLU, as in the eval model)
 */
export function bnFeatures(
  net: BnNetwork,
  x: tf.Tensor4D,
  ops: MnistCnnOps,
  moments: { name: string; mean: tf.Tensor; variance: tf.Tensor }[],
): tf.Tensor2D {
  const bn = (name: (typeof BN_LAYERS)[number][0], h: tf.Tensor) => {
    const axes = h.rank === 4 ? [0, 1, 2] : [0];
    const m = tf.moments(h, axes);
    moments.push({ name, mean: tf.keep(m.mean), variance: tf.keep(m.variance) });
    return tf.add(tf.mul(tf.div(tf.sub(h, m.mean), tf.sqrt(tf.add(m.variance, BN_EPS))), net.gamma[name]), net.beta[name]);
  };
  const k = net.kernels;
  const h1 = ops.pool(tf.relu(bn('conv1', ops.conv(x, k.conv1 as tf.Tensor4D))) as tf.Tensor4D);
  const h2 = ops.pool(tf.relu(bn('conv2', ops.conv(h1, k.conv2 as tf.Tensor4D))) as tf.Tensor4D);
  const flat = tf.reshape(h2, [x.shape[0], 7 * 7 * 32]) as tf.Tensor2D;
  return tf.relu(bn('fc1', ops.matMul(flat, k.fc1 as tf.Tensor2D))) as tf.Tensor2D;
}

/** Folds each batch's statistics into the running ones (EMA) and disposes the moment tensors. */
export async function updateRunningStats(net: BnNetwork, moments: { name: string; mean: tf.Tensor; variance: tf.Tensor }[]): Promise<void> {
  for (const m of moments) {
    const r = net.running[m.name as keyof BnNetwork['running']];
    const [mean, variance] = await Promise.all([m.mean.data(), m.variance.data()]);
    for (let i = 0; i < r.mean.length; i++) {
      r.mean[i] = BN_MOMENTUM * r.mean[i] + (1 - BN_MOMENTUM) * mean[i];
      r.variance[i] = BN_MOMENTUM * r.variance[i] + (1 - BN_MOMENTUM) * variance[i];
    }
    tf.dispose([m.mean, m.variance]);
  }
}

/**
 * The inference network in MNIST_CNN_SPECS layout: per output channel o,
 * W'[…, o] = W[…, o]·s_o and b'_o = β_o − μ_o·s_o with s_o = γ_o / √(σ²_o + ε),
 * using the running statistics.
 */
export async function foldBatchNorm(net: BnNetwork): Promise<NamedWeights> {
  const out: NamedWeights = [];
  for (const [name] of BN_LAYERS) {
    const kernel = (await net.kernels[name].data()) as Float32Array;
    const [gamma, beta] = (await Promise.all([net.gamma[name].data(), net.beta[name].data()])) as Float32Array[];
    const { mean, variance } = net.running[name];
    const c = gamma.length;
    const scale = gamma.map((g, o) => g / Math.sqrt(variance[o] + BN_EPS));
    const w = kernel.map((v, i) => v * scale[i % c]);
    const b = beta.map((bt, o) => bt - mean[o] * scale[o]);
    out.push({ name: `${name}/kernel`, shape: [...net.kernels[name].shape], data: w });
    out.push({ name: `${name}/bias`, shape: [c], data: b });
  }
  out.push({ name: 'fc2/kernel', shape: [128, 10], data: (await net.kernels.fc2.data()) as Float32Array });
  out.push({ name: 'fc2/bias', shape: [10], data: (await net.kernels.fc2Bias.data()) as Float32Array });
  return out;
}
