import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it, beforeAll } from 'vitest';
import { cloneWeights, Rng, type NamedWeights } from '@duel/util';
import { tf } from './tf';
import { GanModel, latentBatch } from './model';
import { isTraceable, packSamples } from './network';
import { initWeights } from './init';
import { dcganSpec, mlp2dSpec, mlpSpec } from './presets';
import { registerWasmConvKernels, registerWasmMatMulKernels } from './backend';
import { discriminatorGradients, discriminatorRealPart, generatorForwardPart, generatorGradients, microBatches, topKCount, type GradientResult } from './steps';
import { discriminatorLoss, generatorLoss } from './losses';
import type { GanLoss, GanSpec } from './spec';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A tiny conv GAN: G 4→(2·2·3)→convT→4×4×2; D conv stride 2 → dense. Exercises every layer type. */
const tinyConv: GanSpec = {
  name: 'tiny-conv',
  latentDim: 4,
  dataShape: [4, 4, 2],
  pack: 1,
  generator: {
    input: [4],
    layers: [
      { type: 'dense', units: 12 },
      { type: 'leakyRelu', alpha: 0.2 },
      { type: 'reshape', shape: [2, 2, 3] },
      { type: 'conv2dTranspose', filters: 2, kernel: 3, stride: 2, padding: 'same' },
      { type: 'tanh' },
    ],
  },
  discriminator: {
    input: [4, 4, 2],
    layers: [
      { type: 'conv2d', filters: 3, kernel: 3, stride: 2, padding: 'same' },
      { type: 'leakyRelu', alpha: 0.2 },
      { type: 'flatten' },
      { type: 'minibatchStd' },
      { type: 'dense', units: 1 },
    ],
  },
};

/**
 * Every conv form backwardNet covers: in G a transposed conv after a dense
 * layer (so its input gradient, a conv2d, is formed) and a conv; in D a
 * 'same' conv then a 'valid' one (its input gradient, a transposed conv).
 */
const convEvery: GanSpec = {
  name: 'conv-every',
  latentDim: 4,
  dataShape: [4, 4, 2],
  pack: 1,
  generator: {
    input: [4],
    layers: [
      { type: 'dense', units: 12 },
      { type: 'relu' },
      { type: 'reshape', shape: [2, 2, 3] },
      { type: 'conv2dTranspose', filters: 3, kernel: 3, stride: 2, padding: 'same' },
      { type: 'leakyRelu', alpha: 0.2 },
      { type: 'conv2d', filters: 2, kernel: 3, stride: 1, padding: 'same' },
      { type: 'tanh' },
    ],
  },
  discriminator: {
    input: [4, 4, 2],
    layers: [
      { type: 'conv2d', filters: 3, kernel: 3, stride: 1, padding: 'same' },
      { type: 'leakyRelu', alpha: 0.2 },
      { type: 'conv2d', filters: 4, kernel: 3, stride: 1, padding: 'valid' },
      { type: 'leakyRelu', alpha: 0.2 },
      { type: 'flatten' },
      { type: 'dense', units: 1 },
    ],
  },
};

function model(spec: GanSpec, seed = 1): GanModel {
  const m = new GanModel(spec);
  m.setWeights('G', initWeights(m.layout.G, seed));
  m.setWeights('D', initWeights(m.layout.D, seed + 1));
  return m;
}

function realBatch(spec: GanSpec, n: number, seed: number): Float32Array {
  const size = spec.dataShape.reduce((a, b) => a * b, 1);
  return new Rng(seed).fillNormal(new Float32Array(n * size), 0, 0.5);
}

type LossAt = (net: 'G' | 'D', w: NamedWeights) => Promise<number>;

/** Central differences on a few coordinates of each tensor against the analytic gradient. */
async function checkGradients(m: GanModel, net: 'G' | 'D', grads: NamedWeights, lossAt: LossAt) {
  const base = cloneWeights(net === 'G' ? readBack(m, 'G') : readBack(m, 'D'));
  const rng = new Rng(7);
  const eps = 3e-3;
  let checked = 0;
  for (let t = 0; t < base.length; t++) {
    for (let r = 0; r < 3; r++) {
      const i = rng.int(base[t].data.length);
      const plus = cloneWeights(base);
      plus[t].data[i] += eps;
      const minus = cloneWeights(base);
      minus[t].data[i] -= eps;
      const numeric = ((await lossAt(net, plus)) - (await lossAt(net, minus))) / (2 * eps);
      const analytic = grads[t].data[i];
      expect(Math.abs(numeric - analytic), `${base[t].name}[${i}] numeric ${numeric} analytic ${analytic}`).toBeLessThan(
        3e-3 + 3e-2 * Math.abs(analytic),
      );
      checked++;
    }
  }
  m.setWeights(net, base);
  return checked;
}

const weightsCache = new Map<GanModel, Record<'G' | 'D', NamedWeights>>();
function readBack(m: GanModel, net: 'G' | 'D'): NamedWeights {
  return weightsCache.get(m)![net];
}

/**
 * Central differences are meaningless across a ReLU kink, and with small nets
 * some sample always sits within eps of one; tanh keeps the check about our
 * code (packing, minibatch-std, losses, conv layers, parameter order).
 */
function smooth(spec: GanSpec): GanSpec {
  const swap = (n: GanSpec['generator']) => ({
    ...n,
    layers: n.layers.map((l) => (l.type === 'relu' || l.type === 'leakyRelu' ? { type: 'tanh' as const } : l)),
  });
  return { ...spec, generator: swap(spec.generator), discriminator: swap(spec.discriminator) };
}

describe.each<[string, GanSpec, GanLoss]>([
  ['mlp2d pack 2, nonsaturating', smooth(mlp2dSpec({ hidden: 6, pack: 2 })), 'nonsaturating'],
  ['mlp2d pack 1 + minibatch-std, minimax', smooth(mlp2dSpec({ hidden: 6, pack: 1, minibatchStd: true })), 'minimax'],
  ['mlp2d hinge', smooth(mlp2dSpec({ hidden: 6, pack: 2 })), 'hinge'],
  ['tiny conv', smooth(tinyConv), 'nonsaturating'],
])('gradients of %s', (_name, spec, loss) => {
  it('match central finite differences for D and G', async () => {
    const m = new GanModel(spec);
    const w = { G: initWeights(m.layout.G, 3), D: initWeights(m.layout.D, 4) };
    // Zero biases put exact zeros on ReLU kinks (a dead G outputs exactly 0, and D's
    // first layer then sits at its kink), where central differences are meaningless.
    // Jitter every parameter so no coordinate is at a kink; scale D up so logits are off zero.
    const jitter = new Rng(99);
    for (const t of [...w.G, ...w.D]) for (let i = 0; i < t.data.length; i++) t.data[i] += 0.1 * jitter.normal();
    for (const t of w.D) for (let i = 0; i < t.data.length; i++) t.data[i] *= 1.5;
    weightsCache.set(m, w);
    m.setWeights('G', w.G);
    m.setWeights('D', w.D);
    const real = realBatch(spec, 8, 11);
    const lossAt: LossAt = async (net, ws) => {
      m.setWeights(net, ws);
      const r = net === 'D' ? await discriminatorGradients(m, real, 5, { loss }) : await generatorGradients(m, 8, 6, { loss });
      return r.stats.loss;
    };
    const d = await discriminatorGradients(m, real, 5, { loss });
    expect(await checkGradients(m, 'D', d.grads, lossAt)).toBeGreaterThan(5);
    const g = await generatorGradients(m, 8, 6, { loss });
    expect(await checkGradients(m, 'G', g.grads, lossAt)).toBeGreaterThan(5);
    m.dispose();
  });
});

describe('step functions', () => {
  it('return gradients in canonical order with the layout shapes, and sane stats', async () => {
    const spec = mlp2dSpec({ hidden: 8 });
    const m = model(spec);
    const d = await discriminatorGradients(m, realBatch(spec, 16, 1), 9);
    expect(d.grads.map((g) => g.name)).toEqual(m.layout.D.map((s) => s.name));
    expect(d.grads.map((g) => g.shape)).toEqual(m.layout.D.map((s) => s.shape));
    expect(d.stats.samples).toBe(32);
    expect(d.stats.dReal).toBeGreaterThan(0);
    expect(d.stats.dReal).toBeLessThan(1);
    // L_D = softplus(-l_r) + softplus(l_f) >= 0; at init D ≈ ½ so L_D ≈ log 4.
    expect(d.stats.loss).toBeGreaterThan(0.5);
    expect(d.stats.loss).toBeLessThan(3);
    const g = await generatorGradients(m, 16, 9);
    expect(g.grads.map((x) => x.name)).toEqual(m.layout.G.map((s) => s.name));
    expect(Number.isNaN(g.stats.dReal)).toBe(true);
    expect(g.stats.samples).toBe(16);
    m.dispose();
  });

  it('are deterministic for a seed and differ across seeds', async () => {
    const spec = mlp2dSpec({ hidden: 8 });
    const m = model(spec);
    const real = realBatch(spec, 16, 1);
    const a = await discriminatorGradients(m, real, 42);
    const b = await discriminatorGradients(m, real, 42);
    const c = await discriminatorGradients(m, real, 43);
    expect(a.grads[0].data).toEqual(b.grads[0].data);
    expect(a.grads[0].data).not.toEqual(c.grads[0].data);
    const g1 = await generatorGradients(m, 16, 5);
    const g2 = await generatorGradients(m, 16, 5);
    expect(g1.grads.at(-1)!.data).toEqual(g2.grads.at(-1)!.data);
    m.dispose();
  });

  it('refuse a batch that is not a whole number of packs', async () => {
    const m = model(mlp2dSpec({ hidden: 4, pack: 2 }));
    await expect(discriminatorGradients(m, new Float32Array(3 * 2), 1)).rejects.toThrow(/DUEL_ERR_SHAPE_MISMATCH/);
    await expect(generatorGradients(m, 3, 1)).rejects.toThrow(/DUEL_ERR_SHAPE_MISMATCH/);
    m.dispose();
  });

  it('leak no tensors across steps (D, G, sampling, weight uploads)', async () => {
    for (const spec of [mlp2dSpec({ hidden: 8 }), tinyConv]) {
      const m = model(spec);
      const real = realBatch(spec, 8, 2);
      const once = async (i: number) => {
        m.setWeights('D', initWeights(m.layout.D, i));
        await discriminatorGradients(m, real, i);
        await generatorGradients(m, 8, i);
        await m.sample(8, i);
      };
      await once(1);
      const before = tf.memory().numTensors;
      for (let i = 2; i < 6; i++) await once(i);
      expect(tf.memory().numTensors).toBe(before);
      m.dispose();
    }
  });
});

/** L_D through one tape over both batches: the form discriminatorGradients had before it was split into two terms. */
async function oneTapeDGradients(m: GanModel, real: Float32Array, zSeed: number, loss: GanLoss): Promise<Float32Array[]> {
  const { spec } = m;
  const batch = real.length / spec.dataShape.reduce((a, b) => a * b, 1);
  const z = latentBatch(batch, spec.latentDim, zSeed);
  const grads = tf.tidy(() => {
    const x = packSamples(tf.tensor(real, [batch, ...spec.dataShape]), spec.pack);
    const fake = packSamples(m.generate(tf.tensor2d(z, [batch, spec.latentDim]), m.tensors('G')), spec.pack);
    return tf.grads((...ps: tf.Tensor[]) => discriminatorLoss(m.discriminate(x, ps), m.discriminate(fake, ps), loss))(m.tensors('D') as tf.Tensor[]);
  });
  const out = grads.map((g) => g.dataSync() as Float32Array);
  tf.dispose(grads);
  return out;
}

describe('the D gradient in two terms', () => {
  const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

  it('is bit for bit the one-tape gradient, for every loss and layer type, with the real half computed inline or beforehand', async () => {
    for (const spec of [mlp2dSpec({ hidden: 8 }), mlp2dSpec({ hidden: 8, dataScale: 2.5 }), mlp2dSpec({ hidden: 8, minibatchStd: true }), tinyConv, convEvery]) {
      for (const loss of ['nonsaturating', 'minimax', 'hinge'] as GanLoss[]) {
        const m = model(spec);
        const real = realBatch(spec, 16, 4);
        const ref = await oneTapeDGradients(m, real, 11, loss);
        const inline = await discriminatorGradients(m, real, 11, { loss });
        const ahead = await discriminatorGradients(m, discriminatorRealPart(m, real, { loss }), 11, { loss });
        for (const got of [inline, ahead]) {
          expect(got.grads.map((g) => bits(g.data))).toEqual(ref.map(bits));
        }
        expect(ahead.stats).toEqual(inline.stats);
        m.dispose();
      }
    }
  });

  it('leaks no tensors, with the real half consumed or disposed', async () => {
    const spec = mlp2dSpec({ hidden: 8 });
    const m = model(spec);
    const real = realBatch(spec, 16, 1);
    const once = async (i: number) => {
      await discriminatorGradients(m, discriminatorRealPart(m, real), i);
      discriminatorRealPart(m, real).dispose();
    };
    await once(1);
    const before = tf.memory().numTensors;
    for (let i = 2; i < 5; i++) await once(i);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});

describe('top-k generator step (Sinha et al. 2020)', () => {
  /** ∂/∂θ_G of the mean non-saturating loss over the packs `keep` (indices into the batch's packs), computed here with tf.grads. */
  function referenceGrads(m: GanModel, z: Float32Array, batch: number, pick: (logits: Float32Array) => number[]): Float32Array[] {
    const { spec } = m;
    return tf.tidy(() => {
      const zt = tf.tensor2d(z, [batch, spec.latentDim]);
      const logits = m.discriminate(packSamples(m.generate(zt), spec.pack)).dataSync() as Float32Array;
      const chosen = pick(logits);
      const weight = new Float32Array(logits.length);
      for (const i of chosen) weight[i] = 1 / chosen.length;
      const w = tf.tensor1d(weight);
      const f = (...ps: tf.Tensor[]) => {
        const l = tf.reshape(m.discriminate(packSamples(m.generate(zt, ps), spec.pack)), [-1]);
        return tf.sum(tf.mul(tf.softplus(tf.neg(l)), w)) as tf.Scalar;
      };
      return tf.grads(f)(m.tensors('G') as tf.Tensor[]).map((g) => g.dataSync() as Float32Array);
    });
  }

  const topIndices = (k: number) => (logits: Float32Array) =>
    Array.from(logits, (v, i) => [v, i] as const)
      .sort((a, b) => b[0] - a[0] || a[1] - b[1])
      .slice(0, k)
      .map(([, i]) => i);

  it('descends only on the packs D scores highest', async () => {
    const spec = mlp2dSpec({ hidden: 8, pack: 2 });
    const m = model(spec, 5);
    const batch = 32; // 16 packs; a share of 0.3 keeps ceil(4.8) = 5
    const got = await generatorGradients(m, batch, 77, { topK: 0.3 });
    const want = referenceGrads(m, latentBatch(batch, spec.latentDim, 77), batch, topIndices(5));
    for (let t = 0; t < want.length; t++) {
      for (let i = 0; i < want[t].length; i++) expect(got.grads[t].data[i]).toBeCloseTo(want[t][i], 6);
    }
    // It is not the full-batch gradient: the dropped packs mattered.
    const all = await generatorGradients(m, batch, 77);
    expect(all.grads[0].data).not.toEqual(got.grads[0].data);
    // The stats still describe every fake: D(G(z)) is the full batch's mean either way.
    expect(got.stats.dFake).toBeCloseTo(all.stats.dFake, 6);
    expect(got.stats.samples).toBe(batch);
    m.dispose();
  });

  it('is the plain step at share 1, keeps at least one pack, and refuses shares outside (0, 1]', async () => {
    const spec = mlp2dSpec({ hidden: 8, pack: 2 });
    const m = model(spec, 6);
    const plain = await generatorGradients(m, 16, 3);
    const one = await generatorGradients(m, 16, 3, { topK: 1 });
    expect(one.grads.map((g) => Array.from(g.data))).toEqual(plain.grads.map((g) => Array.from(g.data)));
    expect(topKCount(8, 1e-6)).toBe(1);
    expect(topKCount(8, 0.5)).toBe(4);
    expect(topKCount(8, 0.51)).toBe(5);
    for (const bad of [0, -0.5, 1.5, Number.NaN]) await expect(generatorGradients(m, 16, 3, { topK: bad })).rejects.toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    m.dispose();
  });

  it('leaks no tensors across steps', async () => {
    const m = model(mlp2dSpec({ hidden: 8, pack: 2 }), 7);
    await generatorGradients(m, 16, 1, { topK: 0.5 });
    const before = tf.memory().numTensors;
    for (let i = 2; i < 6; i++) await generatorGradients(m, 16, i, { topK: 0.25 + i / 20 });
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});

/**
 * L_G through one tape over θ_G (the form generatorGradients had before its
 * backward pass through G was written out), with its top-k mask built the same way.
 */
async function oneTapeGGradients(m: GanModel, batch: number, zSeed: number, loss: GanLoss, topK: number): Promise<Float32Array[]> {
  const { spec } = m;
  const packs = batch / spec.pack;
  const keep = topKCount(packs, topK);
  const grads = tf.tidy(() => {
    const zt = tf.tensor2d(latentBatch(batch, spec.latentDim, zSeed), [batch, spec.latentDim]);
    let mask: tf.Tensor | undefined;
    if (keep < packs) {
      const logits = m.discriminate(packSamples(m.generate(zt), spec.pack));
      const { indices } = tf.topk(tf.reshape(logits, [-1]), keep, true);
      mask = tf.reshape(tf.scatterND(tf.reshape(indices, [keep, 1]), tf.ones([keep]), [packs]), logits.shape);
    }
    return tf.grads((...ps: tf.Tensor[]) => generatorLoss(m.discriminate(packSamples(m.generate(zt, ps), spec.pack)), loss, mask))(m.tensors('G') as tf.Tensor[]);
  });
  const out = grads.map((g) => g.dataSync() as Float32Array);
  tf.dispose(grads);
  return out;
}

describe('the G gradient with G(z) computed beforehand (generatorForwardPart)', () => {
  const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
  /** An MLP G with every layer type backwardNet covers: dense, leakyRelu, relu, reshape, flatten, scale, tanh. */
  const everyLayer: GanSpec = {
    name: 'every-layer',
    latentDim: 3,
    dataShape: [2, 2],
    pack: 2,
    generator: {
      input: [3],
      layers: [
        { type: 'dense', units: 8 },
        { type: 'leakyRelu', alpha: 0.2 },
        { type: 'reshape', shape: [2, 4] },
        { type: 'relu' },
        { type: 'flatten' },
        { type: 'dense', units: 4 },
        { type: 'scale', factor: 1.7 },
        { type: 'tanh' },
        { type: 'reshape', shape: [2, 2] },
      ],
    },
    discriminator: { input: [2, 4], layers: [{ type: 'flatten' }, { type: 'dense', units: 6 }, { type: 'leakyRelu', alpha: 0.2 }, { type: 'dense', units: 1 }] },
  };

  it('is bit for bit the single-tape gradient, computed inline or beforehand, for every loss, layer type and top-k share', async () => {
    for (const spec of [mlp2dSpec({ hidden: 8 }), mlp2dSpec({ hidden: 8, dataScale: 2.5 }), everyLayer, tinyConv, convEvery]) {
      for (const loss of ['nonsaturating', 'minimax', 'hinge'] as GanLoss[]) {
        for (const topK of [1, 0.5]) {
          const m = model(spec, 3);
          const ref = await oneTapeGGradients(m, 16, 21, loss, topK);
          const inline = await generatorGradients(m, 16, 21, { loss, topK });
          const pre = generatorForwardPart(m, 16, 21)!;
          expect(pre.ms).toBeGreaterThanOrEqual(0);
          const ahead = await generatorGradients(m, 16, 21, { loss, topK }, pre);
          for (const got of [inline, ahead]) {
            expect(got.grads.map((g) => g.name)).toEqual(m.layout.G.map((t) => t.name));
            expect(got.grads.map((g) => bits(g.data))).toEqual(ref.map(bits));
          }
          expect(ahead.stats).toEqual(inline.stats);
          // And it is a gradient at all: not all zero.
          expect(ahead.grads.some((g) => g.data.some((v) => v !== 0))).toBe(true);
          m.dispose();
        }
      }
    }
  });

  it('is bit for bit the single-tape gradient on the wasm backend a worker runs, at the sizes it runs (G and D)', async () => {
    registerWasmMatMulKernels();
    registerWasmConvKernels();
    await tf.setBackend('wasm');
    try {
      for (const [spec, batch] of [[mlp2dSpec(), 256], [mlpSpec(), 64], [dcganSpec(), 8]] as const) {
        const m = model(spec, 9);
        const ref = await oneTapeGGradients(m, batch, 5, 'nonsaturating', 1);
        const ahead = await generatorGradients(m, batch, 5, {}, generatorForwardPart(m, batch, 5)!);
        expect(ahead.grads.map((g) => bits(g.data))).toEqual(ref.map(bits));
        // And D's written-out backward pass, on the same sizes.
        const real = realBatch(spec, batch, 6);
        const dRef = await oneTapeDGradients(m, real, 5, 'nonsaturating');
        const d = await discriminatorGradients(m, real, 5);
        expect(d.grads.map((g) => bits(g.data))).toEqual(dRef.map(bits));
        m.dispose();
      }
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('is offered for a conv G too (not for a net with minibatch std), and refuses a G(z) of another batch or z seed', async () => {
    expect(isTraceable(tinyConv.generator)).toBe(true);
    expect(isTraceable(tinyConv.discriminator)).toBe(false);
    const conv = model(tinyConv);
    generatorForwardPart(conv, 8, 1)!.dispose();
    conv.dispose();
    const m = model(mlp2dSpec({ hidden: 8 }));
    const before = tf.memory().numTensors;
    await expect(generatorGradients(m, 16, 1, {}, generatorForwardPart(m, 8, 1)!)).rejects.toThrow(/DUEL_ERR_SHAPE_MISMATCH/);
    await expect(generatorGradients(m, 16, 1, {}, generatorForwardPart(m, 16, 2)!)).rejects.toThrow(/DUEL_ERR_SHAPE_MISMATCH/);
    // The refused part was disposed.
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it('leaks no tensors, with G(z) consumed or disposed', async () => {
    for (const spec of [mlp2dSpec({ hidden: 8 }), everyLayer]) {
      const m = model(spec);
      const once = async (i: number) => {
        await generatorGradients(m, 16, i, { topK: i % 2 ? 1 : 0.5 }, generatorForwardPart(m, 16, i)!);
        generatorForwardPart(m, 16, i)!.dispose();
      };
      await once(1);
      const before = tf.memory().numTensors;
      for (let i = 2; i < 6; i++) await once(i);
      expect(tf.memory().numTensors).toBe(before);
      m.dispose();
    }
  });
});

describe('micro-batches (StepOptions.microBatch)', () => {
  /** tinyConv without its minibatch-std layer, which keeps a batch whole. */
  const conv: GanSpec = { ...tinyConv, discriminator: { ...tinyConv.discriminator, layers: tinyConv.discriminator.layers.filter((l) => l.type !== 'minibatchStd') } };
  const cases: [string, GanSpec, number, number][] = [
    ['mlp2d pack 2, 4 even micro-batches', mlp2dSpec({ hidden: 8, pack: 2 }), 32, 8],
    ['mlp2d pack 2, uneven (8 + 8 + 8 + 6)', mlp2dSpec({ hidden: 8, pack: 2 }), 30, 8],
    ['conv, 3 micro-batches', conv, 12, 4],
  ];

  /** Gradients and stats agree to float32 rounding of a sum in another order. */
  function expectClose(got: GradientResult, want: GradientResult) {
    expect(got.grads.map((g) => g.name)).toEqual(want.grads.map((g) => g.name));
    got.grads.forEach((g, i) => {
      const w = want.grads[i].data;
      const scale = w.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      const err = g.data.reduce((m, x, j) => Math.max(m, Math.abs(x - w[j])), 0);
      expect(err).toBeLessThanOrEqual(1e-5 * scale + 1e-7);
    });
    expect(got.stats.samples).toBe(want.stats.samples);
    for (const k of ['loss', 'dFake'] as const) expect(got.stats[k]).toBeCloseTo(want.stats[k], 5);
    if (!Number.isNaN(want.stats.dReal)) expect(got.stats.dReal).toBeCloseTo(want.stats.dReal, 5);
  }

  it.each(cases)('%s: the D gradient is the whole batch\'s, with and without a real half computed first', async (_, spec, batch, micro) => {
    const m = model(spec);
    const real = realBatch(spec, batch, 3);
    for (const loss of ['nonsaturating', 'hinge'] as const) {
      const whole = await discriminatorGradients(m, real, 11, { loss });
      expectClose(await discriminatorGradients(m, real, 11, { loss, microBatch: micro }), whole);
      const part = discriminatorRealPart(m, real, { loss, microBatch: micro });
      expectClose(await discriminatorGradients(m, part, 11, { loss, microBatch: micro }), whole);
    }
    m.dispose();
  });

  it.each(cases)('%s: the G gradient is the whole batch\'s, with a top-k mask that spans the micro-batches', async (_, spec, batch, micro) => {
    const m = model(spec);
    for (const [loss, topK] of [['nonsaturating', 1], ['minimax', 1], ['nonsaturating', 0.5], ['hinge', 0.25]] as const) {
      const whole = await generatorGradients(m, batch, 5, { loss, topK });
      expectClose(await generatorGradients(m, batch, 5, { loss, topK, microBatch: micro }), whole);
    }
    m.dispose();
  });

  it('run whole, bit for bit, when microBatch ≥ batch or D has a minibatch-std layer', async () => {
    for (const [spec, batch, micro] of [[mlp2dSpec({ hidden: 8, pack: 2 }), 16, 16], [mlp2dSpec({ hidden: 8, pack: 2 }), 16, 64], [tinyConv, 8, 2]] as const) {
      expect(microBatches(spec, batch, micro)).toEqual([{ start: 0, size: batch }]);
      const m = model(spec);
      const real = realBatch(spec, batch, 4);
      const dWhole = await discriminatorGradients(m, real, 2);
      const dMicro = await discriminatorGradients(m, real, 2, { microBatch: micro });
      dMicro.grads.forEach((g, i) => expect(g.data).toEqual(dWhole.grads[i].data));
      const gWhole = await generatorGradients(m, batch, 2, { topK: 0.5 });
      const gMicro = await generatorGradients(m, batch, 2, { topK: 0.5, microBatch: micro });
      gMicro.grads.forEach((g, i) => expect(g.data).toEqual(gWhole.grads[i].data));
      expect(gMicro.stats).toEqual(gWhole.stats);
      m.dispose();
    }
  });

  it('split a batch into micro-batches of the given size, the last one smaller', () => {
    const spec = mlp2dSpec({ hidden: 8, pack: 2 });
    expect(microBatches(spec, 30, 8)).toEqual([{ start: 0, size: 8 }, { start: 8, size: 8 }, { start: 16, size: 8 }, { start: 24, size: 6 }]);
    expect(microBatches(spec, 30)).toEqual([{ start: 0, size: 30 }]);
  });

  it('refuse a microBatch that is not a positive multiple of the pack, before computing anything', async () => {
    const m = model(mlp2dSpec({ hidden: 8, pack: 2 }));
    const before = tf.memory().numTensors;
    for (const microBatch of [0, -2, 3, 2.5, Number.NaN]) {
      await expect(discriminatorGradients(m, realBatch(m.spec, 16, 1), 1, { microBatch })).rejects.toThrow(/DUEL_ERR_BAD_ARGUMENT/);
      await expect(generatorGradients(m, 16, 1, { microBatch })).rejects.toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    }
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it('offer no whole-batch G(z) ahead of a task that runs in micro-batches', () => {
    const m = model(mlp2dSpec({ hidden: 8, pack: 2 }));
    expect(generatorForwardPart(m, 16, 1, 4)).toBeNull();
    const part = generatorForwardPart(m, 16, 1, 16);
    expect(part).not.toBeNull();
    part!.dispose();
    m.dispose();
  });

  it('hold less memory at the peak than the whole batch', async () => {
    const spec = mlp2dSpec({ hidden: 64, pack: 2 });
    const m = model(spec);
    const real = realBatch(spec, 512, 1);
    // tf.profile's peak counts every tensor alive: measure above what is alive before (the weights).
    const peak = async (microBatch?: number) => {
      const base = tf.memory().numBytes;
      const d = await tf.profile(async () => void (await discriminatorGradients(m, real, 1, { microBatch })));
      const g = await tf.profile(async () => void (await generatorGradients(m, 512, 1, { microBatch })));
      return Math.max(d.peakBytes, g.peakBytes) - base;
    };
    const whole = await peak();
    const micro = await peak(64);
    // The activations of 512 samples against those of 64, and a running sum of the gradients (a few tens of KB).
    expect(micro).toBeLessThan(0.4 * whole);
    m.dispose();
  });

  it('leak no tensors across steps', async () => {
    for (const spec of [mlp2dSpec({ hidden: 8, pack: 2 }), conv]) {
      const m = model(spec);
      const real = realBatch(spec, 12, 2);
      const once = async (i: number) => {
        await discriminatorGradients(m, real, i, { microBatch: 4 });
        await discriminatorGradients(m, discriminatorRealPart(m, real, { microBatch: 4 }), i, { microBatch: 4 });
        await generatorGradients(m, 12, i, { microBatch: 4, topK: i % 2 ? 1 : 0.5 });
      };
      await once(1);
      const before = tf.memory().numTensors;
      for (let i = 2; i < 6; i++) await once(i);
      expect(tf.memory().numTensors).toBe(before);
      m.dispose();
    }
  });
});
