import { appendFile, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, Rng, type NamedWeights } from '@duel/util';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint-codec';
import { MemoryStateStore } from './memory-state.store';
import { RedisStateStore, redisReachable } from './redis-state.store';
import { MAX_METRICS_POINTS, type CheckpointData, type MetricsPoint, type StateStore } from './state-store';

const REDIS_URL = process.env.DUEL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Weights with awkward values: -0, denormals, NaN payloads, huge and tiny numbers. */
function tensors(seed: number): NamedWeights {
  const rng = new Rng(seed);
  const a = rng.fillNormal(new Float32Array(37));
  const bits = new Uint32Array(a.buffer);
  bits[0] = 0x80000000; // -0
  bits[1] = 0x00000001; // smallest denormal
  bits[2] = 0x7fc00123; // NaN with a payload
  bits[3] = 0x7f7fffff; // max float32
  return [
    { name: 'G/0/kernel', shape: [37], data: a },
    { name: 'adam/G/m/G/0/kernel', shape: [3, 2], data: rng.fillNormal(new Float32Array(6)) },
    { name: 'empty', shape: [0], data: new Float32Array(0) },
  ];
}

function checkpoint(step: number, seed = step): CheckpointData {
  return { meta: { runId: 'run-test', step, createdAt: 1_700_000_000_000 + step, next: { phase: 'D', step: step + 1, sub: 0 }, resolved: [['3.D0.0.0', 'consumed']] }, tensors: tensors(seed) };
}

function bitsOf(ws: NamedWeights): number[][] {
  return ws.map((w) => [...new Uint32Array(w.data.buffer, w.data.byteOffset, w.data.length)]);
}

describe('checkpoint codec', () => {
  it('round-trips meta and every tensor bit for bit', () => {
    const cp = checkpoint(7);
    const back = decodeCheckpoint(encodeCheckpoint(cp));
    expect(back.meta).toEqual(cp.meta);
    expect(back.tensors.map((t) => [t.name, t.shape])).toEqual(cp.tensors.map((t) => [t.name, t.shape]));
    expect(bitsOf(back.tensors)).toEqual(bitsOf(cp.tensors));
  });

  it('refuses a truncated blob, a flipped bit and a foreign file with CHECKPOINT_CORRUPT', () => {
    const bytes = encodeCheckpoint(checkpoint(3));
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 8))).toThrow(ErrorCodes.CHECKPOINT_CORRUPT);
    expect(() => decodeCheckpoint(bytes.subarray(0, 20))).toThrow(/truncated/);
    const flipped = bytes.slice();
    flipped[flipped.length - 5] ^= 0x10;
    expect(() => decodeCheckpoint(flipped)).toThrow(/SHA-256 mismatch/);
    expect(() => decodeCheckpoint(new TextEncoder().encode('{"meta":{}} plus some more bytes for length >= 56 .......'))).toThrow(/bad magic/);
  });
});

/** The contract every StateStore meets. */
function contract(name: string, make: () => Promise<StateStore>, cleanup: (s: StateStore) => Promise<void> = async () => undefined) {
  describe(`${name}: StateStore contract`, () => {
    let store: StateStore;
    beforeAll(async () => {
      store = await make();
      await store.open();
    });
    afterAll(async () => {
      await cleanup(store);
      await store.close();
    });

    it('has no checkpoint and no run at first', async () => {
      expect(await store.loadCheckpoint()).toBeNull();
      expect(await store.loadRun()).toBeNull();
      expect(await store.ping()).toBe(true);
    });

    it('loads the newest checkpoint back bit for bit and keeps only the newest few', async () => {
      for (const step of [10, 20, 30, 40, 50]) await store.writeCheckpoint(checkpoint(step));
      const loaded = (await store.loadCheckpoint())!;
      expect(loaded.ref.step).toBe(50);
      expect(loaded.refused).toEqual([]);
      expect(loaded.data.meta).toEqual(checkpoint(50).meta);
      expect(bitsOf(loaded.data.tensors)).toEqual(bitsOf(checkpoint(50).tensors));
      expect((await store.listCheckpoints()).map((r) => r.step)).toEqual([50, 40, 30]);
    });

    it('saves and loads the run record', async () => {
      const run = { runId: 'run-x', status: 'running' as const, config: { dataset: 'ring8', steps: 10 }, startedAt: 1, updatedAt: 2 };
      await store.saveRun(run);
      expect(await store.loadRun()).toEqual(run);
    });

    it('keeps leases, credit and metrics history', async () => {
      await store.lease('3.D0.1', 'w-1', 60_000);
      expect(await store.leaseHolder('3.D0.1')).toBe('w-1');
      await store.releaseLease('3.D0.1');
      expect(await store.leaseHolder('3.D0.1')).toBeNull();
      await store.addCredit('w-1', 1, 64);
      await store.addCredit('w-1', 2, 128);
      await store.addCredit('w-2', 1, 32);
      const credits = (await store.credits()).sort((a, b) => a.workerId.localeCompare(b.workerId));
      expect(credits).toEqual([
        { workerId: 'w-1', applied: 3, samples: 192 },
        { workerId: 'w-2', applied: 1, samples: 32 },
      ]);
      for (let i = 1; i <= 5; i++) await store.appendMetrics({ t: i, step: i, dLoss: 1 / i });
      expect((await store.metricsHistory(2)).map((p) => p.step)).toEqual([4, 5]);
    });

    it('refuses a bad metrics point or limit with BAD_ARGUMENT and stores nothing; a diverged metric reads back as null', async () => {
      const before = await store.metricsHistory();
      const bads: MetricsPoint[] = [{ t: Number.NaN, step: 6 }, { t: 6, step: -1 }, { t: 6, step: 1.5 }, { t: 6, step: 6, dLoss: 'x' as unknown as number }];
      for (const bad of bads) {
        await expect(store.appendMetrics(bad)).rejects.toThrow(ErrorCodes.BAD_ARGUMENT);
      }
      await expect(store.metricsHistory(0)).rejects.toThrow(ErrorCodes.BAD_ARGUMENT);
      expect(await store.metricsHistory()).toEqual(before);
      await store.appendMetrics({ t: 6, step: 6, dLoss: Number.NaN, gLoss: 0.7 });
      expect((await store.metricsHistory(1))[0]).toEqual({ t: 6, step: 6, dLoss: null, gLoss: 0.7 });
    });

    it('forgets a worker whose heartbeats stop (TTL)', async () => {
      await store.heartbeat({ id: 'w-ttl', kind: 'node', backend: 'cpu', device: '', seenAt: Date.now() }, 300);
      await store.heartbeat({ id: 'w-live', kind: 'node', backend: 'cpu', device: '', seenAt: Date.now() }, 60_000);
      expect((await store.liveWorkers()).map((w) => w.id).sort()).toEqual(['w-live', 'w-ttl']);
      await new Promise((r) => setTimeout(r, 450));
      expect((await store.liveWorkers()).map((w) => w.id)).toEqual(['w-live']);
      await store.heartbeat({ id: 'w-live', kind: 'node', backend: 'cpu', device: '', seenAt: Date.now() }, 60_000);
      await store.removeWorker('w-live');
      expect(await store.liveWorkers()).toEqual([]);
    });
  });
}

contract('memory', async () => new MemoryStateStore());

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'duel-store-'));
  dirs.push(d);
  return d;
}

contract('memory + files', async () => new MemoryStateStore({ dataDir: await tempDir() }));

describe('memory store options and metrics files', () => {
  it('resolves defaults once: the location names the data dir, or memory', () => {
    expect(new MemoryStateStore().location).toBe('memory');
    expect(new MemoryStateStore({ dataDir: '/tmp/x', now: undefined }).location).toBe('/tmp/x');
    expect(new RedisStateStore({ url: 'redis://:secret@127.0.0.1:6379', prefix: undefined }).location).toBe('redis://:***@127.0.0.1:6379 (prefix duel)');
  });

  it('keeps the metrics history under the data dir: a new store there reads it back, skipping a torn line', async () => {
    const dir = await tempDir();
    const first = new MemoryStateStore({ dataDir: dir });
    await first.open();
    for (let i = 1; i <= 4; i++) await first.appendMetrics({ t: 100 + i, step: i, dLoss: 1.2, gLoss: 0.7, dReal: 0.6, dFake: 0.4, imgsPerSec: 500 });
    await appendFile(join(dir, 'metrics.jsonl'), '{"t":105,"step":5,"dLo'); // a crash mid-append
    const second = new MemoryStateStore({ dataDir: dir });
    expect(await second.metricsHistory()).toEqual([]); // nothing before open()
    await second.open();
    const back = await second.metricsHistory();
    expect(back.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    expect(back[3]).toEqual({ t: 104, step: 4, dLoss: 1.2, gLoss: 0.7, dReal: 0.6, dFake: 0.4, imgsPerSec: 500 });
    // Without a data dir nothing is written anywhere, and nothing outlives the store.
    expect(await new MemoryStateStore().metricsHistory()).toEqual([]);
  });

  it('rewrites the metrics file once it holds twice what the store keeps, keeping the newest points in order', async () => {
    const dir = await tempDir();
    const store = new MemoryStateStore({ dataDir: dir });
    await store.open();
    const n = 2 * MAX_METRICS_POINTS + 3;
    // Not awaited one by one: the file's writes must still land in order.
    await Promise.all(Array.from({ length: n }, (_, i) => store.appendMetrics({ t: i + 1, step: i + 1 })));
    const lines = (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(MAX_METRICS_POINTS + 2);
    const again = new MemoryStateStore({ dataDir: dir });
    await again.open();
    const steps = (await again.metricsHistory()).map((p) => p.step);
    expect(steps).toHaveLength(MAX_METRICS_POINTS);
    expect(steps[0]).toBe(n - MAX_METRICS_POINTS + 1);
    expect(steps.at(-1)).toBe(n);
    expect(steps.every((s, i) => i === 0 || s === steps[i - 1] + 1)).toBe(true);
  });
});

describe('checkpoint files', () => {
  it('writes through a temp file and a pointer, leaving no temp files behind', async () => {
    const dir = await tempDir();
    const store = new MemoryStateStore({ dataDir: dir });
    await store.open();
    const ref = await store.writeCheckpoint(checkpoint(5));
    const files = await readdir(join(dir, 'checkpoints'));
    expect(files.sort()).toEqual(['LATEST', ref.id]);
    expect((await readFile(join(dir, 'checkpoints', 'LATEST'), 'utf8')).trim()).toBe(ref.id);
  });

  it('refuses a partial (torn) latest checkpoint and loads the previous good one', async () => {
    const dir = await tempDir();
    const store = new MemoryStateStore({ dataDir: dir });
    await store.open();
    await store.writeCheckpoint(checkpoint(10));
    const latest = await store.writeCheckpoint(checkpoint(20));
    const path = join(dir, 'checkpoints', latest.id);
    await truncate(path, latest.bytes - 100);
    const loaded = (await store.loadCheckpoint())!;
    expect(loaded.ref.step).toBe(10);
    expect(bitsOf(loaded.data.tensors)).toEqual(bitsOf(checkpoint(10).tensors));
    expect(loaded.refused).toHaveLength(1);
    expect(loaded.refused[0]).toMatchObject({ id: latest.id, code: ErrorCodes.CHECKPOINT_CORRUPT });
    expect(loaded.refused[0].message).toMatch(/torn or partial/);
  });

  it('refuses a corrupted byte and a pointer to a missing file; none good means null', async () => {
    const dir = await tempDir();
    const store = new MemoryStateStore({ dataDir: dir });
    await store.open();
    const first = await store.writeCheckpoint(checkpoint(1));
    const second = await store.writeCheckpoint(checkpoint(2));
    const p2 = join(dir, 'checkpoints', second.id);
    const bytes = await readFile(p2);
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(p2, bytes);
    expect((await store.loadCheckpoint())!.ref.step).toBe(1);
    await rm(join(dir, 'checkpoints', first.id));
    await writeFile(join(dir, 'checkpoints', 'LATEST'), `${first.id}\n`);
    const none = await store.loadCheckpoint();
    expect(none).toBeNull();
  });

  it('a pointer switch is atomic: the pointer never names an unwritten checkpoint', async () => {
    const dir = await tempDir();
    const store = new MemoryStateStore({ dataDir: dir });
    await store.open();
    await store.writeCheckpoint(checkpoint(1));
    // Concurrent readers during a stream of writes only ever load complete checkpoints.
    const writes = (async () => {
      for (let s = 2; s <= 12; s++) await store.writeCheckpoint(checkpoint(s));
    })();
    const seen: number[] = [];
    let done = false;
    void writes.then(() => (done = true));
    while (!done) {
      const l = await new MemoryStateStore({ dataDir: dir }).loadCheckpoint();
      expect(l).not.toBeNull();
      expect(l!.refused).toEqual([]);
      seen.push(l!.ref.step);
    }
    expect(seen.length).toBeGreaterThan(0);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });
});

// ── Redis: the real server at 127.0.0.1:6379 (CI and the project's machines have it) ──

const redisUp = await probeRedis(REDIS_URL);
if (!redisUp) process.stderr.write(`\n!!! Redis at ${REDIS_URL} is unreachable: the Redis store tests are SKIPPED. CI must run them. !!!\n\n`);

const prefix = () => `duel-test-${process.pid}-${Date.now().toString(36)}-${Math.floor(performance.now())}`;
const dropPrefix = (s: StateStore) => (s as RedisStateStore).dropPrefix();

describe.skipIf(!redisUp)('redis', () => {
  contract('redis', async () => new RedisStateStore({ url: REDIS_URL, prefix: prefix() }), dropPrefix);

  it('refuses a corrupted latest blob and loads the previous good one', async () => {
    const store = new RedisStateStore({ url: REDIS_URL, prefix: prefix() });
    await store.open();
    try {
      await store.writeCheckpoint(checkpoint(10));
      const latest = await store.writeCheckpoint(checkpoint(20));
      await store.raw().set(latest.id, Buffer.from(encodeCheckpoint(checkpoint(20)).subarray(0, 200)));
      const loaded = (await store.loadCheckpoint())!;
      expect(loaded.ref.step).toBe(10);
      expect(loaded.refused[0]).toMatchObject({ id: latest.id, code: ErrorCodes.CHECKPOINT_CORRUPT });
    } finally {
      await dropPrefix(store);
      await store.close();
    }
  });

  it('dropPrefix deletes its own keys and no other prefix\'s', async () => {
    const [mine, other] = [new RedisStateStore({ url: REDIS_URL, prefix: prefix() }), new RedisStateStore({ url: REDIS_URL, prefix: `${prefix()}-other` })];
    await Promise.all([mine.open(), other.open()]);
    try {
      for (const s of [mine, other]) await s.appendMetrics({ t: 1, step: 1 });
      await mine.writeCheckpoint(checkpoint(1));
      await mine.dropPrefix();
      expect(await mine.raw().keys(mine.keyOf('*'))).toEqual([]);
      expect(await other.metricsHistory()).toEqual([{ t: 1, step: 1 }]);
    } finally {
      await other.dropPrefix();
      await Promise.all([mine.close(), other.close()]);
    }
  });

  it('skips a stored metrics entry that is not a point', async () => {
    const store = new RedisStateStore({ url: REDIS_URL, prefix: prefix() });
    await store.open();
    try {
      await store.appendMetrics({ t: 1, step: 1, gLoss: 0.7 });
      await store.raw().rPush(store.keyOf('metrics'), ['{"t":2,"step":2,"gLo', '{"t":3}']);
      await store.appendMetrics({ t: 4, step: 4, gLoss: 0.6 });
      expect(await store.metricsHistory()).toEqual([
        { t: 1, step: 1, gLoss: 0.7 },
        { t: 4, step: 4, gLoss: 0.6 },
      ]);
    } finally {
      await dropPrefix(store);
      await store.close();
    }
  });

  it('fails fast with STORE_UNAVAILABLE when Redis is unreachable', async () => {
    const store = new RedisStateStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 500 });
    await expect(store.open()).rejects.toThrow(ErrorCodes.STORE_UNAVAILABLE);
    expect(await store.ping()).toBe(false);
  });
});

function probeRedis(url: string): Promise<boolean> {
  return redisReachable(url, 1000);
}
