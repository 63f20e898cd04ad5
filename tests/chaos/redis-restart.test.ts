import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisStateStore, redisReachable } from '@duel/store';
import { alive, duel, freePort, getJson, kill9, metricSum, report, start, stop, stopEverything, until, type Proc, type RecoveryStatus, type Status, upOrDie } from './support';

/**
 * Redis restart: the test runs its own `redis-server` on a free port (so it
 * can kill it without touching the shared one), SIGKILLs it mid-run and
 * starts an empty one on the same port. The coordinator trains on from
 * memory meanwhile (checkpoint writes fail and are counted), reconnects on
 * its own, and catches the store up: the run record, a checkpoint of the
 * current state and the worker registry are written again. Nothing crashes.
 */
const STEPS = Number(process.env.DUEL_CHAOS_STEPS ?? 150);
const EVERY = 10;
const SHARDS = 2;
const BACKEND = 'wasm';

const hasRedisServer = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!hasRedisServer) process.stderr.write('\n!!! redis-server is not installed: the Redis restart chaos test is SKIPPED. CI must run it. !!!\n\n');

function redisServer(port: number): Proc {
  return start('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
}

function redisAnswers(url: string): Promise<boolean> {
  return redisReachable(url, 500);
}

describe.skipIf(!hasRedisServer)('chaos: Redis is killed and restarted empty mid-run', () => {
  afterAll(stopEverything);

  it('the coordinator trains on from memory, reconnects and catches the store up; nothing crashes', async () => {
    const redisPort = await freePort();
    const url = `redis://127.0.0.1:${redisPort}`;
    const prefix = 'duel-chaos';
    let redis = redisServer(redisPort);
    await until('redis-server up', 30_000, () => redisAnswers(url));

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const coordinator = duel('coordinator', ['coordinator', '--port', String(port), '--dataset', 'ring8', '--steps', String(STEPS), '--seed', '13', '--shards', String(SHARDS), '--redis', url, '--store-prefix', prefix, '--checkpoint-every', String(EVERY)]);
    await upOrDie(coordinator, `${base}/api/recovery`);
    const workers = [0, 1].map((i) => duel(`worker-${i}`, ['worker', '--coordinator', `ws://127.0.0.1:${port}/ws`, '--backend', BACKEND]));
    await until('a checkpoint in Redis', 600_000, async () => (await getJson<RecoveryStatus>(`${base}/api/recovery`)).checkpoints.written >= 1 || null);

    await kill9(redis);
    const stepAtDown = (await getJson<Status>(`${base}/api/status`)).run.step;
    const tDown = Date.now();
    // Training goes on from memory for more than a checkpoint interval; the failed writes are counted.
    const down = await until('training on while Redis is down', 600_000, async () => {
      const r = await getJson<RecoveryStatus>(`${base}/api/recovery`);
      return r.step >= stepAtDown + EVERY + 1 && r.checkpoints.failed >= 1 ? r : null;
    });
    expect(down.store.behind).toBe(true);
    expect(await metricSum(base, 'duel_store_up')).toBe(0);
    const ready = await getJson<{ status: string }>(`${base}/readyz`).catch((e: Error) => ({ status: e.message }));
    expect(ready.status).toMatch(/503|error/);

    // Read the step before Redis comes back: the coordinator may reconnect and catch up before
    // the test's next request, so a step read after `redis-server up again` can already be past
    // the catch-up checkpoint (CI saw 32 < 34).
    const stepAtUp = (await getJson<Status>(`${base}/api/status`)).run.step;
    redis = redisServer(redisPort);
    await until('redis-server up again', 30_000, () => redisAnswers(url));
    const tUp = Date.now();
    const caught = await until('store caught up', 120_000, async () => {
      const r = await getJson<RecoveryStatus>(`${base}/api/recovery`);
      return r.checkpoints.catchUps >= 1 && !r.store.behind ? r : null;
    }, 50);
    const tCaught = Date.now();

    // The empty Redis holds the run again: record, a checkpoint at or after the step it came back at, the registry.
    const store = new RedisStateStore({ url, prefix });
    await store.open();
    try {
      expect((await store.loadRun())?.status).toBe('running');
      const cp = await store.loadCheckpoint();
      expect(cp).not.toBeNull();
      expect(cp!.ref.step).toBeGreaterThanOrEqual(stepAtUp);
      expect(cp!.refused).toEqual([]);
      await until('workers registered again', 30_000, async () => (await store.liveWorkers()).length === 2);
    } finally {
      await store.close();
    }
    expect(await metricSum(base, 'duel_store_up')).toBe(1);

    await until('run complete', 780_000, async () => (await getJson<Status>(`${base}/api/status`)).run.state === 'complete', 500);
    const status = await getJson<Status>(`${base}/api/status`);
    const recovery = await getJson<RecoveryStatus>(`${base}/api/recovery`);
    expect(status.run.step).toBe(STEPS);
    expect(recovery.appliedResults).toBe(STEPS * 2 * SHARDS);
    expect(status.workers.reduce((n, w) => n + w.accepted, 0)).toBe(STEPS * 2 * SHARDS);
    for (const p of [coordinator, ...workers, redis]) expect(alive(p), `${p.name}: ${p.lines.slice(-10).join('\n')}`).toBe(true);
    report('redis restart', {
      steps: STEPS,
      checkpointEvery: EVERY,
      stepAtDown,
      stepsTrainedWhileDown: stepAtUp - stepAtDown,
      downSeconds: (tUp - tDown) / 1000,
      catchUpMs: tCaught - tUp,
      failedCheckpointWrites: caught.checkpoints.failed,
    });
    await Promise.all(workers.map((w) => stop(w)));
    await stop(coordinator);
    await stop(redis);
  });
});
