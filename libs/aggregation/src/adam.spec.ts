import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, cloneWeights, isDuelError, sizeOf, zerosLike, type NamedWeights, type TensorSpec } from '@duel/util';
import {
  ADAM_EPSILON_FLOAT32,
  DCGAN_ADAM,
  GAN_ADAM_DEFAULTS,
  adamStateFromJSON,
  adamStateToJSON,
  adamStep,
  createAdamState,
  type AdamHyperparams,
} from './adam';

const SPECS: TensorSpec[] = [
  { name: 'dense/kernel', shape: [7, 5] },
  { name: 'dense/bias', shape: [5] },
  { name: 'conv/kernel', shape: [3, 3, 2, 4] },
  { name: 'scalar', shape: [1] },
];

function randomWeights(rng: Rng, std: number): NamedWeights {
  const ws = zerosLike(SPECS);
  for (const w of ws) rng.fillNormal(w.data, 0, std);
  return ws;
}

/** Gradients with mixed magnitudes (tiny ones exercise ε) and some exact zeros. */
function randomGrads(rng: Rng): NamedWeights {
  const gs = randomWeights(rng, 1);
  for (const g of gs) {
    for (let i = 0; i < g.data.length; i++) {
      const r = rng.uniform();
      if (r < 0.1) g.data[i] = 0;
      else if (r < 0.3) g.data[i] *= 1e-6;
      else if (r < 0.4) g.data[i] *= 100;
    }
  }
  return gs;
}

function maxAbsDiff(a: NamedWeights, b: NamedWeights): number {
  let d = 0;
  for (let k = 0; k < a.length; k++) {
    for (let i = 0; i < a[k].data.length; i++) d = Math.max(d, Math.abs(a[k].data[i] - b[k].data[i]));
  }
  return d;
}

/**
 * Runs `steps` steps of ours and of tf.train.adam side by side on the same
 * gradients; returns the largest weight and moment differences seen.
 */
async function compareWithTfjs(seed: number, steps: number, hp: AdamHyperparams): Promise<{ w: number; mv: number; moved: number }> {
  const rng = new Rng(seed);
  const init = randomWeights(rng, 0.5);
  const ours = cloneWeights(init);
  const state = createAdamState(SPECS);
  const vars = init.map((w, k) => tf.tidy(() => tf.variable(tf.tensor(w.data, w.shape), true, `s${seed}_${k}`)));
  const opt = tf.train.adam(hp.lr, hp.beta1, hp.beta2, hp.epsilon);
  let worst = 0;
  try {
    for (let s = 0; s < steps; s++) {
      const grads = randomGrads(rng);
      adamStep(ours, grads, state, hp);
      tf.tidy(() => opt.applyGradients(grads.map((g, k) => ({ name: vars[k].name, tensor: tf.tensor(g.data, g.shape) }))));
      const theirs = vars.map((v, k) => ({ ...SPECS[k], data: v.dataSync() as Float32Array }));
      worst = Math.max(worst, maxAbsDiff(ours, theirs));
    }
    // tfjs orders its optimizer weights as [iterations, m..., v...].
    const optWeights = await opt.getWeights();
    const moments = optWeights.slice(1).map((nt) => nt.tensor.dataSync() as Float32Array);
    optWeights[0].tensor.dispose(); // the iterations scalar getWeights() creates
    let mv = 0;
    for (let k = 0; k < SPECS.length; k++) {
      for (let i = 0; i < sizeOf(SPECS[k].shape); i++) {
        mv = Math.max(mv, Math.abs(state.m[k].data[i] - moments[k][i]), Math.abs(state.v[k].data[i] - moments[SPECS.length + k][i]));
      }
    }
    return { w: worst, mv, moved: maxAbsDiff(ours, init) };
  } finally {
    opt.dispose();
    vars.forEach((v) => v.dispose());
  }
}

describe('adamStep vs tf.train.adam (tfjs-core 4.22, cpu backend)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    await tf.ready();
  });

  it('uses the same default epsilon as the float32 backend', () => {
    expect(tf.backend().epsilon()).toBe(ADAM_EPSILON_FLOAT32);
  });

  const cases: [string, AdamHyperparams][] = [
    ['DCGAN settings', DCGAN_ADAM],
    ['large lr, default tfjs betas, default epsilon', { lr: 0.05, beta1: 0.9, beta2: 0.999 }],
    ['explicit large epsilon', { lr: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-3 }],
  ];
  it.each(cases)('matches within 1e-6 over 50 steps: %s', async (_label, hp) => {
    const r = await compareWithTfjs(11, 50, hp);
    // The weights really moved (so the comparison is not vacuous) ...
    expect(r.moved).toBeGreaterThan(50 * hp.lr * 0.1);
    // ... and both the weights and the moments agree (measured: 0, i.e. bit-exact, on tfjs-core 4.22 cpu).
    expect(r.w).toBeLessThanOrEqual(1e-6);
    expect(r.mv).toBeLessThanOrEqual(1e-6);
  });

  it('does not leak tfjs tensors in the comparison harness', async () => {
    const before = tf.memory().numTensors;
    await compareWithTfjs(12, 3, DCGAN_ADAM);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('adamStep', () => {
  it('first step moves each weight by about lr against the gradient sign', () => {
    const w = [{ name: 'a', shape: [3], data: new Float32Array([1, 1, 1]) }];
    const g = [{ name: 'a', shape: [3], data: new Float32Array([2, -0.5, 0]) }];
    const state = createAdamState(w);
    adamStep(w, g, state, { lr: 0.1, beta1: 0.9, beta2: 0.999 });
    // m̂ = g, v̂ = g², so the step is lr·g/(|g|+ε). Only to ~1e-5: like tfjs, 1−β2
    // and 1−accβ2 are rounded to float32 separately, so v̂ is g²·(1 + 1.3e-5).
    expect(w[0].data[0]).toBeCloseTo(0.9, 5);
    expect(w[0].data[1]).toBeCloseTo(1.1, 5);
    expect(w[0].data[2]).toBe(1);
    expect(state.t).toBe(1);
    expect(state.accBeta1).toBeCloseTo(0.9, 7);
  });

  it('rejects a layout mismatch without touching the state', () => {
    const w = zerosLike(SPECS);
    const g = zerosLike(SPECS.slice(0, 3));
    const state = createAdamState(SPECS);
    expect(() => adamStep(w, g, state, DCGAN_ADAM)).toThrow(/DUEL_ERR_SHAPE_MISMATCH/);
    const renamed = zerosLike(SPECS);
    renamed[1].name = 'other';
    expect(() => adamStep(w, renamed, state, DCGAN_ADAM)).toThrow(/DUEL_ERR_SHAPE_MISMATCH/);
    expect(state.t).toBe(0);
    expect(state.accBeta1).toBe(1);
  });

  it('rejects bad hyperparameters', () => {
    const w = zerosLike(SPECS);
    const state = createAdamState(SPECS);
    for (const hp of [{ ...DCGAN_ADAM, lr: 0 }, { ...DCGAN_ADAM, beta1: 1 }, { ...DCGAN_ADAM, beta2: -0.1 }, { ...DCGAN_ADAM, epsilon: 0 }]) {
      expect(() => adamStep(w, zerosLike(SPECS), state, hp)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    }
  });

  it('exports DCGAN defaults for both networks', () => {
    expect(GAN_ADAM_DEFAULTS.d).toEqual({ lr: 2e-4, beta1: 0.5, beta2: 0.999, epsilon: 1e-7 });
    expect(GAN_ADAM_DEFAULTS.g).toEqual(GAN_ADAM_DEFAULTS.d);
  });
});

describe('adam state serialisation', () => {
  it('a restored state continues exactly like the original', () => {
    const rng = new Rng(5);
    const a = randomWeights(rng, 0.5);
    const sa = createAdamState(SPECS);
    const grads = Array.from({ length: 6 }, () => randomGrads(rng));
    for (const g of grads.slice(0, 3)) adamStep(a, g, sa, DCGAN_ADAM);
    const saved = adamStateToJSON(sa);
    const m0 = saved.m[0].data[0];
    // The scalars survive a JSON round trip unchanged (float32 values are exact doubles).
    const scalars = JSON.parse(JSON.stringify({ t: saved.t, accBeta1: saved.accBeta1, accBeta2: saved.accBeta2 }));
    const sb = adamStateFromJSON({ ...scalars, m: saved.m, v: saved.v }, SPECS);
    const b = cloneWeights(a);
    for (const g of grads.slice(3)) {
      adamStep(a, g, sa, DCGAN_ADAM);
      adamStep(b, g, sb, DCGAN_ADAM);
    }
    expect(maxAbsDiff(a, b)).toBe(0);
    expect(sb.t).toBe(6);
    // The snapshot is a copy: later steps changed neither it nor what was restored from it.
    expect(saved.t).toBe(3);
    expect(saved.m[0].data[0]).toBe(m0);
    expect(sa.m[0].data[0]).not.toBe(m0);
  });

  it('rejects a snapshot with the wrong layout or scalars', () => {
    const s = adamStateToJSON(createAdamState(SPECS));
    const expectCode = (fn: () => unknown, code: string) => {
      try {
        fn();
        expect.unreachable();
      } catch (e) {
        expect(isDuelError(e) && e.code).toBe(code);
      }
    };
    expectCode(() => adamStateFromJSON(s, SPECS.slice(1)), 'DUEL_ERR_SHAPE_MISMATCH');
    expectCode(() => adamStateFromJSON({ ...s, t: -1 }, SPECS), 'DUEL_ERR_BAD_ARGUMENT');
    expectCode(() => adamStateFromJSON({ ...s, accBeta2: 2 }, SPECS), 'DUEL_ERR_BAD_ARGUMENT');
  });
});
