import * as tf from '@tensorflow/tfjs-core';
import { DuelError, ErrorCodes } from '@duel/util';
import { frechetFromStats, gaussianStats, type GaussianStats } from '../frechet';
import { scoreFromProbs } from './classifier-score';
import { MNIST_CLASSES, MNIST_CNN_FEATURES, MNIST_CNN_SPECS, mnistCnnFeatures, mnistCnnLogits } from './mnist-cnn.model';
import { decodeWeights, type WeightsFile } from './weights-codec';

const PIXELS = 28 * 28;
const BATCH = 250;

/** The committed MNIST classifier with its weights on the current tf backend. */
export interface MnistClassifier {
  /** Parameters in MNIST_CNN_SPECS order. */
  readonly params: readonly tf.Tensor[];
  /** How the weights were made: test accuracy, command, seed (from the asset). */
  readonly meta: Record<string, unknown>;
}

let loaded: Promise<MnistClassifier> | null = null;

/**
 * Loads the committed weights (libs/eval/assets/mnist-cnn.weights.json, ~1.15 MB)
 * once per process. The asset is a dynamic import, so bundles that never score
 * images never fetch it. Needs a registered tf backend.
 */
export function loadMnistClassifier(): Promise<MnistClassifier> {
  loaded ??= import('../../assets/mnist-cnn.weights.json').then((m) => {
    const file = (m.default ?? m) as unknown as WeightsFile;
    const ws = decodeWeights(file, MNIST_CNN_SPECS);
    return { params: ws.map((w) => tf.tensor(w.data, w.shape)), meta: file.meta ?? {} };
  });
  loaded.catch(() => (loaded = null));
  return loaded;
}

/** Frees the classifier's tensors; the next call loads them again. */
export async function disposeMnistClassifier(): Promise<void> {
  const c = loaded;
  loaded = null;
  if (c) tf.dispose([...(await c).params]);
}

export interface ClassifierOutputs {
  /** p(y|x) [n, 10] */
  probs: Float32Array;
  /** Penultimate features [n, 128] */
  features: Float32Array;
}

/**
 * Runs the classifier over images in batches of 250, each inside tf.tidy.
 * @param images [n, 28, 28, 1] (or [n, 784]) row-major, pixels in [-1, 1]
 */
export async function classifierOutputs(images: Float32Array): Promise<ClassifierOutputs> {
  const n = images.length / PIXELS;
  if (!Number.isInteger(n) || n < 1) {
    throw new DuelError(ErrorCodes.SHAPE_MISMATCH, `MNIST classifier: ${images.length} values is not [n ≥ 1, 28, 28, 1]`);
  }
  const { params } = await loadMnistClassifier();
  const probs = new Float32Array(n * MNIST_CLASSES);
  const features = new Float32Array(n * MNIST_CNN_FEATURES);
  for (let at = 0; at < n; at += BATCH) {
    const b = Math.min(BATCH, n - at);
    const [p, f] = tf.tidy(() => {
      const x = tf.tensor4d(images.subarray(at * PIXELS, (at + b) * PIXELS), [b, 28, 28, 1]);
      const feats = mnistCnnFeatures(params, x);
      return [tf.softmax(mnistCnnLogits(params, feats)), feats];
    });
    const [pd, fd] = await Promise.all([p.data(), f.data()]);
    tf.dispose([p, f]);
    probs.set(pd as Float32Array, at * MNIST_CLASSES);
    features.set(fd as Float32Array, at * MNIST_CNN_FEATURES);
  }
  return { probs, features };
}

/** Most likely digit per image, [n]. */
export async function classifierPredict(images: Float32Array): Promise<Uint8Array> {
  const { probs } = await classifierOutputs(images);
  const n = probs.length / MNIST_CLASSES;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < MNIST_CLASSES; c++) if (probs[i * MNIST_CLASSES + c] > probs[i * MNIST_CLASSES + best]) best = c;
    out[i] = best;
  }
  return out;
}

/**
 * Classifier score exp(E_x KL(p(y|x) ‖ p(y))) of images [n, 28, 28, 1] in [-1, 1]:
 * about 9.8 for the real MNIST test set, 1 for a collapsed G (see scoreFromProbs).
 */
export async function classifierScore(images: Float32Array): Promise<number> {
  return scoreFromProbs((await classifierOutputs(images)).probs, MNIST_CLASSES);
}

/** Gaussian stats of the classifier's penultimate features; compute once for the real set and reuse. */
export async function classifierFeatureStats(images: Float32Array): Promise<GaussianStats> {
  return gaussianStats((await classifierOutputs(images)).features, MNIST_CNN_FEATURES);
}

/**
 * Fréchet distance between two image sets in the classifier's 128-d penultimate
 * feature space (FID with our MNIST classifier in place of Inception; SYSTEM.md uses
 * 10k generated vs 10k real test images). Pass GaussianStats for either side to skip
 * recomputing it.
 */
export async function frechetDistance(a: Float32Array | GaussianStats, b: Float32Array | GaussianStats): Promise<number> {
  const stats = (x: Float32Array | GaussianStats) => (x instanceof Float32Array ? classifierFeatureStats(x) : x);
  const [sa, sb] = await Promise.all([stats(a), stats(b)]);
  return frechetFromStats(sa, sb);
}
