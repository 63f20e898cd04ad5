import { createShardSampler, resolveDataset, ring8 } from '@duel/datasets';
import { GanModel, ganLayout, initWeights, mlp2dSpec, tf } from '@duel/gan';
import { executeTask, taskSeed } from '@duel/trainer';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunInfo, TaskFrame } from '@duel/protocol';
import { bytesOf, FakeTransport, feed, handshake, newSession, task, TEST_RUN, TINY_LAYOUT, TINY_SPEC } from './test-fixtures';
import { TaskRunner } from './task-runner';

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
    const start = tf.memory().numTensors;
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
    // The model's tensors and the prefetched real half of the next D task (the last task was a G task) are gone.
    expect(tf.memory().numTensors).toBe(start);
  });
});

/** A transport that hands every buffer back at once, as the browser's WebSocket does. */
class WritingTransport extends FakeTransport {
  override send(bytes: Uint8Array, done?: () => void): void {
    super.send(new Uint8Array(bytes)); // keep a copy: the session reuses the buffer
    done?.();
  }
}

/**
 * Feeds `first`, then `second`, to a session over a transport that reports its
 * writes and over one that does not; returns the second result's gradient bytes
 * and the milliseconds its compute had done ahead, for each.
 */
async function secondResultWithAndWithoutWrites(first: TaskFrame, second: TaskFrame): Promise<{ results: Uint8Array[][]; used: number[] }> {
  const results: Uint8Array[][] = [];
  const used: number[] = [];
  const take = vi.spyOn(TaskRunner.prototype, 'compute');
  for (const t of [new WritingTransport(), new FakeTransport()]) {
    take.mockClear();
    const s = newSession();
    await handshake(s, t);
    feed(s, first);
    await s.idle();
    feed(s, second);
    await s.idle();
    const [, r] = t.of('result');
    results.push(r.grads.map((g) => new Uint8Array(bytesOf(g.data))));
    used.push((await take.mock.results[1].value).aheadMs);
    s.dispose();
  }
  take.mockRestore();
  return { results, used };
}

/** A gradient's bytes, per tensor, for bit-for-bit comparisons. */
const bytes = (o: { grads: { data: Float32Array }[] }) => o.grads.map((g) => new Uint8Array(bytesOf(g.data)));

/** A runner prepared for TEST_RUN (with `run` over it), holding G 0 and D 0; `microBatch` as a worker's --micro-batch. */
async function runner(run: Partial<RunInfo> = {}, microBatch?: number): Promise<TaskRunner> {
  const r = new TaskRunner((name) => resolveDataset(name), microBatch);
  await r.prepare({ ...TEST_RUN, ...run });
  r.setWeights('G', 0, initWeights(TINY_LAYOUT.G, 1));
  r.setWeights('D', 0, initWeights(TINY_LAYOUT.D, 2));
  return r;
}

describe('the prefetched real half of the next D task (sync runs)', () => {
  const shard = { index: 1, count: 2 };
  const G = (step: number) => task({ taskId: `${step}.G.1.0`, phase: 'G', step, shard, seed: 31 });
  const D = (step: number, over: Partial<TaskFrame> = {}) => task({ taskId: `${step}.D0.1.0`, phase: 'D', step, shard, seed: 4242, ...over });

  /** What executeTask computes for a D task on the runner's weights at (G 0, D 0). */
  async function reference(step: number, shardIndex = 1): Promise<Uint8Array[]> {
    const model = new GanModel(TINY_SPEC);
    model.setWeights('G', initWeights(TINY_LAYOUT.G, 1));
    model.setWeights('D', initWeights(TINY_LAYOUT.D, 2));
    const sampler = createShardSampler(ring8, { seed: TEST_RUN.seed, shard: shardIndex, numShards: 2 });
    const want = await executeTask(model, { seed: TEST_RUN.seed, k: 1, loss: 'nonsaturating' }, { phase: 'D', step, sub: 0, shard: shardIndex, numShards: 2, batch: 8 }, sampler, 4242);
    model.dispose();
    return want.grads.map((g) => new Uint8Array(bytesOf(g.data)));
  }

  it('is used by the D task it was computed for, and gives its gradient bit for bit', async () => {
    const r = await runner();
    await r.compute(G(3));
    r.prefetchAfter(G(3));
    const out = await r.compute(D(4));
    expect(out.aheadMs).toBeGreaterThan(0);
    expect(bytes(out)).toEqual(await reference(4));
    r.reset();
  });

  it('is dropped for another task, after new D weights, and in async runs; the gradient is right either way', async () => {
    const r = await runner();
    r.prefetchAfter(G(3));
    const other = await r.compute(D(4, { shard: { index: 0, count: 2 } }));
    expect(other.aheadMs).toBe(0);
    expect(bytes(other)).toEqual(await reference(4, 0));
    r.prefetchAfter(G(3));
    r.setWeights('D', 0, initWeights(TINY_LAYOUT.D, 2)); // D re-sent (same numbers here): the half is dropped all the same
    expect((await r.compute(D(4))).aheadMs).toBe(0);
    r.prefetchAfter(task({ phase: 'D', step: 3, shard })); // after a D task it is G(z) that is computed, no real half
    expect((await r.compute(D(4))).aheadMs).toBe(0);
    r.reset();
    const a = await runner({ mode: 'async' });
    a.prefetchAfter(G(3));
    expect((await a.compute(D(4))).aheadMs).toBe(0);
    a.reset();
  });

  it('a session prefetches once a G result is written, and its next D result is what it is without', async () => {
    const { results, used } = await secondResultWithAndWithoutWrites(G(3), D(4));
    // Only the transport that reports its writes let the session prefetch.
    expect(used[0]).toBeGreaterThan(0);
    expect(used[1]).toBe(0);
    expect(results[0]).toEqual(results[1]);
    expect(results[0]).toEqual(await reference(4));
  });

  it('leaks no tensors: used, dropped, or left when the runner resets', async () => {
    const start = tf.memory().numTensors;
    const r = await runner();
    const cycle = async (step: number) => {
      await r.compute(G(step));
      r.prefetchAfter(G(step));
      await r.compute(D(step + 1));
      r.prefetchAfter(G(step));
      await r.compute(D(step + 1, { shard: { index: 0, count: 2 } }));
      r.prefetchAfter(G(step));
    };
    await cycle(1);
    const before = tf.memory().numTensors;
    for (let i = 2; i < 5; i++) await cycle(i);
    expect(tf.memory().numTensors).toBe(before);
    r.reset();
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('the prefetched G(z) of the G task (sync runs)', () => {
  const shard = { index: 1, count: 2 };
  const gSeed = (step: number, index = 1) => taskSeed(TEST_RUN.seed, { phase: 'G', step, sub: 0, shard: index });
  const D = (step: number, over: Partial<TaskFrame> = {}) => task({ taskId: `${step}.D0.1.0`, phase: 'D', step, shard, seed: 4242, ...over });
  const G = (step: number, over: Partial<TaskFrame> = {}) => task({ taskId: `${step}.G.1.0`, phase: 'G', step, shard, seed: gSeed(step), ...over });

  /** What executeTask computes for G task `frame` on G 0 and the D weights of `dSeed`. */
  async function reference(frame: TaskFrame, dSeed = 2): Promise<Uint8Array[]> {
    const model = new GanModel(TINY_SPEC);
    model.setWeights('G', initWeights(TINY_LAYOUT.G, 1));
    model.setWeights('D', initWeights(TINY_LAYOUT.D, dSeed));
    const spec = { phase: 'G' as const, step: frame.step, sub: 0, shard: frame.shard.index, numShards: 2, batch: frame.batchSize };
    const want = await executeTask(model, { seed: TEST_RUN.seed, k: 1, loss: 'nonsaturating' }, spec, null, frame.seed);
    model.dispose();
    return want.grads.map((g) => new Uint8Array(bytesOf(g.data)));
  }

  it('survives the new D weights, is used by the G task it was computed for, and gives its gradient bit for bit', async () => {
    const r = await runner();
    await r.compute(D(3));
    r.prefetchAfter(D(3));
    // The coordinator applies the D result and sends the new D before the G task: G(z) does not read D.
    r.setWeights('D', 1, initWeights(TINY_LAYOUT.D, 5));
    const frame = G(3, { versions: { g: 0, d: 1 } });
    const out = await r.compute(frame);
    expect(out.aheadMs).toBeGreaterThan(0);
    expect(bytes(out)).toEqual(await reference(frame, 5));
    r.reset();
  });

  it('is dropped for another task or seed, after new G weights, before the last D sub-step, and in async runs', async () => {
    const r = await runner();
    const dropped = async (frame: TaskFrame) => {
      const out = await r.compute(frame);
      expect(out.aheadMs).toBe(0);
      expect(bytes(out)).toEqual(await reference(frame));
    };
    r.prefetchAfter(D(3));
    await dropped(G(3, { shard: { index: 0, count: 2 }, seed: gSeed(3, 0) }));
    r.prefetchAfter(D(3));
    await dropped(G(3, { seed: 99 })); // not the seed the coordinator derives: z would differ
    r.prefetchAfter(D(3));
    r.setWeights('G', 0, initWeights(TINY_LAYOUT.G, 1)); // G re-sent (same numbers here): dropped all the same
    await dropped(G(3));
    r.reset();
    const k2 = await runner({ k: 2 });
    k2.prefetchAfter(D(3, { sub: 0 })); // a D sub-step comes next, not the G task
    expect((await k2.compute(G(3))).aheadMs).toBe(0);
    k2.prefetchAfter(D(3, { sub: 1 }));
    expect((await k2.compute(G(3))).aheadMs).toBeGreaterThan(0);
    k2.reset();
    const a = await runner({ mode: 'async' });
    a.prefetchAfter(D(3));
    expect((await a.compute(G(3))).aheadMs).toBe(0);
    a.reset();
  });

  it('a session prefetches once a D result is written, and its G result is what it is without', async () => {
    const { results, used } = await secondResultWithAndWithoutWrites(D(3), G(3));
    expect(used[0]).toBeGreaterThan(0);
    expect(used[1]).toBe(0);
    expect(results[0]).toEqual(results[1]);
    expect(results[0]).toEqual(await reference(G(3)));
  });

  it('leaks no tensors: used, dropped, or left when the runner resets', async () => {
    const start = tf.memory().numTensors;
    const r = await runner();
    const cycle = async (step: number) => {
      await r.compute(D(step));
      r.prefetchAfter(D(step));
      await r.compute(G(step));
      r.prefetchAfter(D(step));
      await r.compute(G(step, { seed: 1 }));
      r.prefetchAfter(D(step));
    };
    await cycle(1);
    const before = tf.memory().numTensors;
    for (let i = 2; i < 5; i++) await cycle(i);
    expect(tf.memory().numTensors).toBe(before);
    r.reset();
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('a worker with a micro-batch (TaskRunner microBatch)', () => {
  const shard = { index: 1, count: 2 };
  const D = (step: number) => task({ taskId: `${step}.D0.1.0`, phase: 'D', step, shard, batchSize: 8, seed: 4242 });
  const G = (step: number) => task({ taskId: `${step}.G.1.0`, phase: 'G', step, shard, batchSize: 8, seed: 31 });


  /** executeTask on the runner's weights, whole or in micro-batches. */
  async function reference(frame: TaskFrame, microBatch?: number) {
    const model = new GanModel(TINY_SPEC);
    model.setWeights('G', initWeights(TINY_LAYOUT.G, 1));
    model.setWeights('D', initWeights(TINY_LAYOUT.D, 2));
    const sampler = createShardSampler(ring8, { seed: TEST_RUN.seed, shard: 1, numShards: 2 });
    const spec = { phase: frame.phase, step: frame.step, sub: 0, shard: 1, numShards: 2, batch: frame.batchSize };
    const want = await executeTask(model, { seed: TEST_RUN.seed, k: 1, loss: 'nonsaturating' }, spec, sampler, frame.seed, 1, undefined, microBatch);
    model.dispose();
    return want.grads;
  }

  it('computes the task in micro-batches: the whole batch\'s gradient to float rounding, with the real half ahead too', async () => {
    const r = await runner({}, 2);
    const d = await r.compute(D(3));
    r.prefetchAfter(D(3));
    const g = await r.compute(G(3));
    r.prefetchAfter(G(3));
    const d2 = await r.compute(D(4));
    // G(z) of the whole batch is not held ahead of a G task that runs in micro-batches; the real half is, in micro-batches.
    expect(g.aheadMs).toBe(0);
    expect(d2.aheadMs).toBeGreaterThan(0);
    for (const [out, frame] of [[d, D(3)], [g, G(3)], [d2, D(4)]] as const) {
      expect(bytes(out)).toEqual(bytes({ grads: await reference(frame, 2) }));
      const whole = await reference(frame);
      out.grads.forEach((x, i) => x.data.forEach((v, j) => expect(v).toBeCloseTo(whole[i].data[j], 5)));
    }
    r.reset();
  });

  it('refuses, once at the run, a micro-batch that is not a positive multiple of the run\'s pack', async () => {
    for (const mb of [3, 0, -2, 2.5]) {
      const r = new TaskRunner((name) => resolveDataset(name), mb);
      await expect(r.prepare(TEST_RUN)).rejects.toThrow(new RegExp(`DUEL_ERR_BAD_SPEC.*micro-batch ${mb} .*pack \\(2 samples\\)`));
      expect(r.ready).toBe(false);
    }
  });

  it('leaks no tensors across tasks with prefetch', async () => {
    const r = await runner({}, 4);
    const round = async (step: number) => {
      await r.compute(D(step));
      r.prefetchAfter(D(step));
      await r.compute(G(step));
      r.prefetchAfter(G(step));
    };
    await round(1);
    const before = tf.memory().numTensors;
    for (let s = 2; s < 5; s++) await round(s);
    expect(tf.memory().numTensors).toBe(before);
    r.reset();
  });
});

describe('a micro-batch the run cannot use', () => {
  it('is logged once at the welcome, and the tasks run whole (a D with minibatch std)', async () => {
    const logs: [string, string, Record<string, unknown>][] = [];
    const s = newSession({ microBatch: 2, events: { log: (l, e, f) => logs.push([l, e, f]) } });
    const t = new FakeTransport();
    s.onOpen(t);
    const spec = mlp2dSpec({ hidden: 8, minibatchStd: true });
    const layout = ganLayout(spec);
    feed(s, { t: 'welcome', workerId: 'w-1', run: { ...TEST_RUN, model: spec as unknown as RunInfo['model'] }, heartbeatMs: 1000, versions: { g: 0, d: 0 } });
    feed(s, { t: 'weights', net: 'G', version: 0, tensors: initWeights(layout.G, 1) });
    feed(s, { t: 'weights', net: 'D', version: 0, tensors: initWeights(layout.D, 2) });
    await s.idle();
    expect(logs.filter(([, e]) => e === 'micro-batch-ignored')).toEqual([['warn', 'micro-batch-ignored', { workerId: 'w-1', microBatch: 2, reason: expect.stringMatching(/minibatch-std.*runs whole/) }]]);
    feed(s, task({ batchSize: 8 }));
    await s.idle();
    expect(t.of('result')).toHaveLength(1);
    s.dispose();
  });

  it('is not mentioned when it applies', async () => {
    const logs: string[] = [];
    const s = newSession({ microBatch: 2, events: { log: (_, e) => logs.push(e) } });
    await handshake(s, new FakeTransport());
    expect(logs).toContain('welcome');
    expect(logs).not.toContain('micro-batch-ignored');
    s.dispose();
  });
});
