import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DashboardMessage, HistoryPoint, HistoryResponse } from '@duel/api-types';
import { RedisStateStore, redisReachable } from '@duel/store';
import { duel, freePort, getJson, stop, stopEverything, until, type RecoveryStatus, type Status, upOrDie } from '../chaos/support';

const REDIS_URL = process.env.DUEL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const redisUp = await redisReachable(REDIS_URL, 1000);
if (!redisUp) process.stderr.write(`\n!!! Redis at ${REDIS_URL} is unreachable: the Redis case of history-resume.test.ts is SKIPPED. CI must run it. !!!\n\n`);

/** The first message of GET /api/events: the snapshot a dashboard draws its charts from. */
async function snapshot(base: string): Promise<DashboardMessage> {
  const ac = new AbortController();
  const res = await fetch(`${base}/api/events`, { signal: ac.signal });
  const reader = res.body!.getReader();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the event stream ended before a snapshot:\n${text}`);
      text += new TextDecoder().decode(value);
      const end = text.indexOf('\n\n');
      if (end < 0) continue;
      const data = text.slice(0, end).split('\n').find((l) => l.startsWith('data:'));
      return JSON.parse(data!.slice(5)) as DashboardMessage;
    }
  } finally {
    ac.abort();
  }
}

const steps = (h: HistoryPoint[]) => h.map((p) => p.step);

/**
 * Issue #5: the metrics history (losses, D(x), D(G(z)) per step) outlives a
 * restart. A real `duel coordinator` trains a few steps with one worker, is
 * stopped (SIGTERM: a final checkpoint) and started again with --resume on the
 * same store; /api/history and the dashboard's /api/events snapshot still hold
 * every point from before the restart, and the new steps follow them.
 */
describe('the metrics history after a resume', () => {
  const dirs: string[] = [];
  const prefix = `duel-history-${process.pid}-${Date.now().toString(36)}`;
  afterAll(async () => {
    await stopEverything();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    if (!redisUp) return;
    const s = new RedisStateStore({ url: REDIS_URL, prefix });
    await s.open();
    await s.dropPrefix();
    await s.close();
  });

  async function restartKeepsHistory(store: string[]): Promise<void> {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const args = ['coordinator', '--port', String(port), '--dataset', 'ring8', '--steps', '200', '--batch', '48', '--seed', '6', '--shards', '1', '--checkpoint-every', '1000', ...store];
    const first = duel('coordinator-1', args);
    await upOrDie(first, `${base}/api/recovery`);
    const worker = duel('worker', ['worker', '--coordinator', `ws://127.0.0.1:${port}/ws`, '--backend', 'cpu']);
    await until('step 6', 120_000, async () => (await getJson<Status>(`${base}/api/status`)).run.step >= 6);
    const before = (await getJson<HistoryResponse>(`${base}/api/history`)).history;
    expect(steps(before).slice(0, 6)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(before.every((p) => p.dLoss !== null && p.gLoss !== null && p.dReal !== null && p.dFake !== null)).toBe(true);
    await stop(first); // SIGTERM: the final checkpoint holds every step recorded so far
    const stoppedAt = Date.now();

    const second = duel('coordinator-2', [...args, '--resume']);
    const resumed = await upOrDie<RecoveryStatus>(second, `${base}/api/recovery`);
    expect(resumed.resumedFrom?.step).toBeGreaterThanOrEqual(before.at(-1)!.step);
    const from = resumed.resumedFrom!.step;
    await until(`three steps past ${from}`, 120_000, async () => (await getJson<Status>(`${base}/api/status`)).run.step >= from + 3);

    const check = (after: HistoryPoint[], where: string) => {
      // Every point from before the restart, unchanged (its own wall clock, not recomputed), then the new steps in order.
      expect(after.slice(0, before.length), where).toEqual(before);
      expect(steps(after), where).toEqual(Array.from({ length: after.length }, (_, i) => i + 1));
      expect(after.filter((p) => p.step > from).every((p) => p.t > stoppedAt), where).toBe(true);
      expect(after.at(-1)!.step, where).toBeGreaterThanOrEqual(from + 3);
    };
    check((await getJson<HistoryResponse>(`${base}/api/history`)).history, '/api/history');
    const snap = await snapshot(base);
    expect(snap.kind).toBe('snapshot');
    check(snap.history, '/api/events snapshot');
    await stop(worker);
    await stop(second);
  }

  it('memory store with a data dir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'duel-history-'));
    dirs.push(dir);
    await restartKeepsHistory(['--data-dir', dir]);
  }, 400_000);

  it.skipIf(!redisUp)('Redis store', async () => {
    await restartKeepsHistory(['--redis', REDIS_URL, '--store-prefix', prefix]);
  }, 400_000);
});
