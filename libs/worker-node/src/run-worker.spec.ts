import { resolveDataset } from '@duel/datasets';
import { ganLayout, initWeights, mlp2dSpec, tf } from '@duel/gan';
import type { CoordinatorFrame, JsonObject, RunInfo } from '@duel/protocol';
import { ErrorCodes, isDuelError } from '@duel/util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeCoordinator, type Script } from './fake-coordinator';
import { runWorker, type RunWorkerOptions, type WorkerHandle } from './run-worker';

const SPEC = mlp2dSpec({ hidden: 8 });
const LAYOUT = ganLayout(SPEC);
const RUN: RunInfo = {
  id: 'run-e2e',
  dataset: 'ring8',
  seed: 3,
  model: SPEC as unknown as JsonObject,
  loss: 'nonsaturating',
  k: 1,
  batchSize: 8,
  mode: 'sync',
  staleness: 0,
};

/** hello → welcome, weights G and D, one D task; result → ack applied. */
function coordinatorScript(heartbeatMs: (conn: number) => number): Script {
  return (f, conn) => {
    if (f.t === 'result') return [{ t: 'ack', taskId: f.taskId, status: 'applied' }];
    if (f.t !== 'hello') return [];
    const frames: CoordinatorFrame[] = [
      { t: 'welcome', workerId: 'w-1', run: RUN, heartbeatMs: heartbeatMs(conn), versions: { g: 0, d: 0 }, resumeToken: 'rt-w-1' },
      { t: 'weights', net: 'G', version: 0, tensors: initWeights(LAYOUT.G, 1) },
      { t: 'weights', net: 'D', version: 0, tensors: initWeights(LAYOUT.D, 2) },
      { t: 'task', taskId: `t-${conn}`, phase: 'D', step: 1, sub: 0, versions: { g: 0, d: 0 }, shard: { index: 0, count: 1 }, batchSize: 8, seed: 9, deadlineMs: 30_000 },
    ];
    return frames;
  };
}

const logs: { level: string; event: string; fields: Record<string, unknown> }[] = [];
const cleanup: (() => Promise<unknown>)[] = [];

async function start(url: string, over: Partial<RunWorkerOptions> = {}): Promise<WorkerHandle> {
  const handle = await runWorker({
    coordinator: url,
    backend: 'cpu',
    jitterSeed: 1,
    graceMs: 3_000,
    selectBackend: async () => {
      await tf.setBackend('cpu');
      return { name: 'cpu', device: 'test cpu', reason: 'test' };
    },
    loadDataset: (name) => resolveDataset(name),
    log: (level, event, fields = {}) => logs.push({ level, event, fields }),
    ...over,
  });
  cleanup.push(() => handle.stop('cleanup'));
  return handle;
}

const until = <T>(fn: () => T, timeout = 10_000) =>
  vi.waitFor(
    () => {
      const v = fn();
      if (!v) throw new Error('not yet');
      return v;
    },
    { timeout, interval: 20 },
  );

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
  logs.length = 0;
});

describe('runWorker against a scripted coordinator', () => {
  it('handshakes, computes, reconnects with its workerId, survives silence, and says bye on stop', async () => {
    const srv1 = await FakeCoordinator.start(coordinatorScript(() => 5_000));
    cleanup.push(() => srv1.kill());
    const handle = await start(srv1.url, { metricsPort: 0 });

    // hello → welcome → weights → task → result → ack
    const result = await until(() => srv1.of('result')[0]);
    const hello = srv1.of('hello')[0].frame;
    expect(hello).toMatchObject({ kind: 'node', capabilities: { backend: 'cpu', device: 'test cpu' } });
    expect(hello.resume).toBeUndefined();
    expect(srv1.received.map((r) => r.frame.t)).toEqual(['hello', 'result']);
    expect(result.frame).toMatchObject({ taskId: 't-0', workerId: 'w-1', phase: 'D', versions: { g: 0, d: 0 } });
    expect(result.frame.grads.map((g) => g.name)).toEqual(LAYOUT.D.map((s) => s.name));
    await until(() => handle.session.counters.accepted === 1);
    const metrics = await (await fetch(`http://127.0.0.1:${handle.metricsPort}/metrics`)).text();
    expect(metrics).toContain('duel_worker_tasks_total 1');
    expect(metrics).toContain('duel_worker_acks_total{status="applied"} 1');
    const ready = await fetch(`http://127.0.0.1:${handle.metricsPort}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ connected: true, workerId: 'w-1' });

    // The coordinator dies and comes back on the same port: the worker resumes its id.
    const port = srv1.port;
    await srv1.kill();
    await until(() => !handle.session.connected);
    expect((await fetch(`http://127.0.0.1:${handle.metricsPort}/readyz`)).status).toBe(503);
    // Connection 0 gets a heartbeat of 150 ms and no pings: the watchdog must cut it.
    const srv2 = await FakeCoordinator.start(coordinatorScript((conn) => (conn === 0 ? 150 : 5_000)), port);
    cleanup.push(() => srv2.kill());
    const hello2 = await until(() => srv2.of('hello')[0]);
    expect(hello2.frame.resume).toEqual({ workerId: 'w-1', token: 'rt-w-1' });
    await until(() => srv2.of('result')[0]);
    expect(logs.some((l) => l.event === 'welcome' && l.fields['reused'] === true)).toBe(true);

    const hello3 = await until(() => srv2.of('hello').find((r) => r.conn === 1));
    expect(hello3.frame.resume).toEqual({ workerId: 'w-1', token: 'rt-w-1' });
    expect(JSON.stringify(logs)).not.toContain('rt-w-1');
    expect(logs.some((l) => l.event === 'heartbeat-timeout')).toBe(true);
    await until(() => srv2.of('result').find((r) => r.conn === 1));

    // SIGTERM-like stop: bye, then a clean 1000 close.
    await handle.stop('SIGTERM');
    await handle.done;
    const bye = srv2.of('bye');
    expect(bye.map((b) => [b.conn, b.frame.reason])).toEqual([[1, 'SIGTERM']]);
    await until(() => srv2.closes.find((c) => c.conn === 1));
    expect(srv2.closes.find((c) => c.conn === 1)?.code).toBe(1000);
    expect(handle.session.counters).toMatchObject({ tasksDone: 3, dropped: 0 });
  });

  it('stops with the DuelError when the coordinator refuses the token', async () => {
    const srv = await FakeCoordinator.start((f) => (f.t === 'hello' ? [{ t: 'error', code: ErrorCodes.UNAUTHORIZED, message: 'bad token', fatal: true }] : []));
    cleanup.push(() => srv.kill());
    const handle = await start(srv.url, { token: 'wrong' });
    const err = await handle.done.then(
      () => null,
      (e: unknown) => e,
    );
    expect(isDuelError(err) && err.code).toBe(ErrorCodes.UNAUTHORIZED);
    expect(srv.of('hello')[0].frame.token).toBe('wrong');
    expect(srv.of('hello')).toHaveLength(1); // no futile reconnects
  });
});
