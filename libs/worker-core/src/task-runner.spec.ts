import { createShardSampler, ring8 } from '@duel/datasets';
import { GanModel, initWeights, tf } from '@duel/gan';
import { executeTask } from '@duel/trainer';
import { beforeAll, describe, expect, it } from 'vitest';
import { bytesOf, FakeTransport, feed, handshake, newSession, task, TINY_LAYOUT, TINY_SPEC } from './test-fixtures';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function gradBytes(t: FakeTransport, i: number): Uint8Array[] {
  return t.of('result')[i].grads.map((g) => new Uint8Array(bytesOf(g.data)));
}

describe('task computation', () => {
  it('honours the task seed: the same task twice gives bit-identical gradients, another seed does not', async () => {
    const t = new FakeTransport();
    const s = newSession();
    await handshake(s, t);
    feed(s, task({ taskId: 'x', seed: 99 }));
    feed(s, task({ taskId: 'y', seed: 99 }));
    await s.idle(); // at most two tasks pending at once
    feed(s, task({ taskId: 'z', seed: 100 }));
    await s.idle();
    expect(gradBytes(t, 1)).toEqual(gradBytes(t, 0));
    expect(gradBytes(t, 2)).not.toEqual(gradBytes(t, 0));
    s.dispose();
  });

  it('computes exactly what executeTask computes for the same (step, sub, shard, seed)', async () => {
    const t = new FakeTransport();
    const s = newSession();
    await handshake(s, t);
    const frame = task({ phase: 'D', step: 3, sub: 0, shard: { index: 1, count: 2 }, batchSize: 8, seed: 4242 });
    feed(s, frame);
    await s.idle();

    const model = new GanModel(TINY_SPEC);
    model.setWeights('G', initWeights(TINY_LAYOUT.G, 1));
    model.setWeights('D', initWeights(TINY_LAYOUT.D, 2));
    const sampler = createShardSampler(ring8, { seed: 7, shard: 1, numShards: 2 });
    const spec = { phase: 'D' as const, step: 3, sub: 0, shard: 1, numShards: 2, batch: 8 };
    const want = await executeTask(model, { seed: 7, k: 1, loss: 'nonsaturating' }, spec, sampler, 4242);
    model.dispose();
    expect(gradBytes(t, 0)).toEqual(want.grads.map((g) => new Uint8Array(bytesOf(g.data))));
    expect(t.of('result')[0].stats.loss).toBe(want.stats.loss);
    s.dispose();
  });

  it('a different step draws a different real batch (the step reaches the sampler)', async () => {
    const t = new FakeTransport();
    const s = newSession();
    await handshake(s, t);
    feed(s, task({ step: 1 }));
    feed(s, task({ step: 2 }));
    await s.idle();
    expect(gradBytes(t, 1)).not.toEqual(gradBytes(t, 0));
    s.dispose();
  });

  it('leaks no tensors across tasks and weight updates', async () => {
    const t = new FakeTransport();
    const s = newSession();
    await handshake(s, t);
    // Warm-up: the first task may allocate backend-level caches.
    feed(s, task({ taskId: 'w', phase: 'D' }));
    feed(s, task({ taskId: 'w2', phase: 'G' }));
    await s.idle();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) {
      feed(s, { t: 'weights', net: 'D', version: i + 1, tensors: initWeights(TINY_LAYOUT.D, 10 + i) });
      feed(s, task({ taskId: `d${i}`, phase: 'D', versions: { g: 0, d: i + 1 }, step: i + 2 }));
      feed(s, task({ taskId: `g${i}`, phase: 'G', versions: { g: 0, d: i + 1 }, step: i + 2 }));
      await s.idle();
    }
    expect(t.of('result')).toHaveLength(10);
    expect(tf.memory().numTensors).toBe(before);
    s.dispose();
    expect(tf.memory().numTensors).toBe(before - TINY_LAYOUT.G.length - TINY_LAYOUT.D.length);
  });
});
