import { beforeAll, describe, expect, it } from 'vitest';
import { createShardSampler, ring8 } from '@duel/datasets';
import { discriminatorRealPart, GanModel, initWeights, tf } from '@duel/gan';
import { allFinite, cloneWeights } from '@duel/util';
import { LocalTrainer } from './local-trainer';
import { ganSpecFor, lrScale, resolveRunConfig } from './run-config';
import { executeTask, planTasks, realBatchOf, splitBatch, taskSeed } from './task';
import { applyGradients, initTrainingState } from './training-state';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const small = (over = {}) => resolveRunConfig({ dataset: 'ring8', steps: 4, batchSize: 16, hidden: 8, seed: 3, ...over });

describe('executeTask with a prefetched real half', () => {
  it('uses it without drawing the real batch, and refuses (and frees) one of another batch size', async () => {
    const cfg = small();
    const m = new GanModel(ganSpecFor(cfg));
    m.setWeights('G', initWeights(m.layout.G, 1));
    m.setWeights('D', initWeights(m.layout.D, 2));
    const sampler = createShardSampler(ring8, { seed: cfg.seed, shard: 0, numShards: 1 });
    const task = { phase: 'D' as const, step: 2, sub: 0, shard: 0, numShards: 1, batch: 16 };
    const want = await executeTask(m, cfg, task, sampler);
    const before = tf.memory().numTensors;
    const real = realBatchOf(cfg, task, sampler);
    const got = await executeTask(m, cfg, task, null, undefined, 1, discriminatorRealPart(m, real, { loss: cfg.loss }));
    expect(got.grads.map((g) => [...g.data])).toEqual(want.grads.map((g) => [...g.data]));
    const other = discriminatorRealPart(m, real.subarray(0, 8 * 2), { loss: cfg.loss });
    await expect(executeTask(m, cfg, task, sampler, undefined, 1, other)).rejects.toThrow(/DUEL_ERR_SHAPE_MISMATCH/);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});

describe('run config', () => {
  it('fills dataset defaults and validates every field with a coded error', () => {
    const c = resolveRunConfig({ dataset: 'ring8' });
    expect(c.model).toBe('mlp2d');
    expect(c.pack).toBe(2);
    expect(resolveRunConfig({ dataset: 'mnist' }).model).toBe('mlp');
    expect(() => resolveRunConfig({ dataset: 'ring8', k: 0 })).toThrow(/DUEL_ERR_BAD_ARGUMENT: k/);
    expect(() => resolveRunConfig({ dataset: 'ring8', loss: 'wgan' as never })).toThrow(/available: nonsaturating, minimax, hinge/);
    expect(() => resolveRunConfig({ dataset: 'ring8', model: 'resnet' })).toThrow(/DUEL_ERR_BAD_ARGUMENT: model/);
    expect(() => resolveRunConfig({ dataset: 'ring8', batchSize: 7, pack: 2 })).toThrow(/multiple of pack/);
    expect(() => resolveRunConfig({ dataset: 'ring8', lrD: -1 })).toThrow(/lrD/);
  });

  it('decays the learning rate linearly to the floor', () => {
    const c = resolveRunConfig({ dataset: 'ring8', steps: 100, lrDecay: 'linear', lrFloor: 0.1 });
    expect(lrScale(c, 1)).toBe(1);
    expect(lrScale(c, 51)).toBeCloseTo(0.55, 6);
    expect(lrScale(c, 101)).toBeCloseTo(0.1, 6);
    expect(lrScale({ ...c, lrDecay: 'none' }, 80)).toBe(1);
  });
});

describe('task plan', () => {
  it('splits a batch in whole packs, as evenly as possible', () => {
    expect(splitBatch(256, 3, 2)).toEqual([86, 86, 84]);
    expect(splitBatch(256, 1, 2)).toEqual([256]);
    expect(splitBatch(64, 4, 1)).toEqual([16, 16, 16, 16]);
    expect(() => splitBatch(4, 3, 2)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });

  it('gives each task a distinct, reproducible seed', () => {
    const c = small();
    const tasks = planTasks(c, 'D', 2, 1, 3);
    expect(tasks.map((t) => t.shard)).toEqual([0, 1, 2]);
    const seeds = tasks.map((t) => taskSeed(c.seed, t));
    expect(new Set(seeds).size).toBe(3);
    expect(seeds).toEqual(planTasks(c, 'D', 2, 1, 3).map((t) => taskSeed(c.seed, t)));
    expect(taskSeed(c.seed, { ...tasks[0], phase: 'G' })).not.toBe(seeds[0]);
  });
});

describe('LocalTrainer', () => {
  it('runs k D-updates and one G-update per step, deterministically', async () => {
    const run = async () => {
      const t = new LocalTrainer(small({ k: 2 }), ring8);
      const m = [await t.step(), await t.step()];
      const out = { m, versions: { ...t.state.versions }, g: cloneWeights(t.state.weights.G) };
      t.dispose();
      return out;
    };
    const a = await run();
    expect(a.versions).toEqual({ G: 2, D: 4 });
    expect(a.m[1].step).toBe(2);
    expect(allFinite(a.g)).toBe(true);
    const b = await run();
    expect(b.g.map((w) => Array.from(w.data))).toEqual(a.g.map((w) => Array.from(w.data)));
  });

  it('with N simulated shards equals the average of the per-shard gradients (changes the trajectory, not the validity)', async () => {
    const t = new LocalTrainer(small(), ring8, { numShards: 2 });
    const m = await t.step();
    expect(m.samples).toBe(2 * 16 + 16);
    expect(allFinite(t.state.weights.D)).toBe(true);
    t.dispose();
  });

  it("with a micro-batch trains to the whole batch's weights within float rounding, and refuses one that splits a pack", async () => {
    const run = async (microBatch?: number) => {
      const t = new LocalTrainer(small(), ring8, { microBatch });
      for (let i = 0; i < 3; i++) await t.step();
      const w = [...t.state.weights.G, ...t.state.weights.D].map((x) => Array.from(x.data));
      t.dispose();
      return w;
    };
    const whole = await run();
    const micro = await run(4); // batch 16 in 4 micro-batches of 2 packs
    let maxDiff = 0;
    whole.forEach((a, i) => a.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - micro[i][j])))));
    expect(maxDiff).toBeLessThan(1e-5);
    // Summed in another order, so not bit for bit: the micro-batches did run.
    expect(micro).not.toEqual(whole);
    expect(await run(16)).toEqual(whole);
    expect(() => new LocalTrainer(small(), ring8, { microBatch: 3 })).toThrow(/DUEL_ERR_BAD_ARGUMENT.*pack \(2 samples\)/);
  });

  it('leaks no tensors across steps', async () => {
    const t = new LocalTrainer(small({ steps: 10 }), ring8, { microBatch: 6 });
    await t.step();
    await t.sample(16, 1);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      await t.step();
      await t.sample(16, 1);
    }
    expect(tf.memory().numTensors).toBe(before);
    t.dispose();
  });
});

describe('training state', () => {
  it('counts the furthest G step applied when async updates land out of order', () => {
    const cfg = small();
    const model = new GanModel(ganSpecFor(cfg));
    const st = initTrainingState(cfg, model.layout);
    const zeros = st.weights.G.map((w) => ({ ...w, data: new Float32Array(w.data.length) }));
    applyGradients(st, cfg, 'G', zeros, 2);
    applyGradients(st, cfg, 'G', zeros, 1);
    expect(st.step).toBe(2);
    expect(st.versions.G).toBe(2);
    model.dispose();
  });
});
