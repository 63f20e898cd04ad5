import { describe, expect, it, beforeAll } from 'vitest';
import { cloneWeights, Rng, type NamedWeights } from '@duel/util';
import { tf } from './tf';
import { GanModel } from './model';
import { initWeights } from './init';
import { mlp2dSpec } from './presets';
import { discriminatorGradients, generatorGradients } from './steps';
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
