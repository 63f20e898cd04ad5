import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CoordinatorCheckpointMeta } from '@duel/coordinator';
import { CheckpointFiles } from '@duel/store';
import { countEvents, duel, freePort, getJson, stop, stopEverything, until, type RecoveryStatus, type Status, upOrDie } from '../chaos/support';

/**
 * SIGTERM on a real `duel coordinator`: it stops issuing, abandons the open
 * round, writes a checkpoint at that exact position, tells the worker to wait
 * and reconnect (wait shutting_down + close 4503), and exits. Started again on
 * the same data directory it resumes on its own (the run record says
 * "running"), and the same worker process rejoins and finishes the run.
 */
describe('graceful shutdown (SIGTERM) and automatic resume', () => {
  let dir = '';
  afterAll(async () => {
    await stopEverything();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('checkpoints on SIGTERM, the worker reconnects, and a restart resumes with no step lost', async () => {
    dir = await mkdtemp(join(tmpdir(), 'duel-sigterm-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const args = ['coordinator', '--port', String(port), '--dataset', 'ring8', '--steps', '30', '--batch', '48', '--seed', '5', '--shards', '1', '--data-dir', dir, '--checkpoint-every', '1000'];
    const first = duel('coordinator-1', args);
    await upOrDie(first, `${base}/api/recovery`);
    const worker = duel('worker', ['worker', '--coordinator', `ws://127.0.0.1:${port}/ws`, '--backend', 'cpu']);
    await until('step 5', 120_000, async () => (await getJson<Status>(`${base}/api/status`)).run.step >= 5);

    await stop(first);
    const final = first.lines.map((l) => /final checkpoint (ckpt-\d+\.duel) at step (\d+)/.exec(l)).find(Boolean);
    expect(final, first.lines.slice(-15).join('\n')).toBeTruthy();
    const saved = (await new CheckpointFiles(join(dir, 'checkpoints')).load())!;
    expect(saved.ref.id).toBe(final![1]);
    expect(saved.ref.step).toBe(Number(final![2]));
    await until('the worker told to reconnect', 30_000, () =>
      worker.lines.some((l) => l.includes('"reason":"shutting_down"') && l.includes('"reconnect":true')) && worker.lines.some((l) => l.includes('"code":4503')),
    );

    const second = duel('coordinator-2', args);
    const resumed = await until('resumed', 120_000, () => getJson<RecoveryStatus>(`${base}/api/recovery`));
    expect(resumed.resumedFrom?.checkpoint).toBe(final![1]);
    expect(resumed.resumedFrom?.step).toBe(saved.ref.step);
    // The worker may rejoin and finish a step before the first /api/recovery answer: the live step only moves on.
    expect(resumed.step).toBeGreaterThanOrEqual(saved.ref.step);
    await until('run complete', 300_000, async () => (await getJson<Status>(`${base}/api/status`)).run.state === 'complete', 300);
    const status = await getJson<Status>(`${base}/api/status`);
    expect(status.run.versions).toEqual({ g: 30, d: 30 });
    expect(countEvents(worker, 'welcome')).toBe(2);
    expect((await getJson<RecoveryStatus>(`${base}/api/recovery`)).appliedResults).toBe(60);
    await stop(worker);
    await stop(second);
  }, 400_000);

  it('async: the positions in flight at SIGTERM are in the checkpoint, issued again after the restart, and --steps updates are applied', async () => {
    const asyncDir = await mkdtemp(join(tmpdir(), 'duel-sigterm-async-'));
    try {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const args = ['coordinator', '--port', String(port), '--dataset', 'ring8', '--steps', '30', '--batch', '48', '--seed', '5', '--mode', 'async', '--staleness', '2', '--data-dir', asyncDir, '--checkpoint-every', '1000'];
      const first = duel('coordinator-async-1', args);
      await upOrDie(first, `${base}/api/recovery`);
      // Two workers, so two positions are in flight whenever the coordinator stops.
      const workers = [1, 2].map((i) => duel(`worker-async-${i}`, ['worker', '--coordinator', `ws://127.0.0.1:${port}/ws`, '--backend', 'cpu']));
      await until('step 5', 120_000, async () => (await getJson<Status>(`${base}/api/status`)).run.step >= 5);

      await stop(first);
      const { meta } = (await new CheckpointFiles(join(asyncDir, 'checkpoints')).load<CoordinatorCheckpointMeta>())!.data;
      // Whatever was issued and not applied when it stopped is kept, every position before the resume cursor.
      expect(meta.pending, first.lines.slice(-15).join('\n')).toBeDefined();
      for (const p of meta.pending!) expect(p.pos.step).toBeLessThanOrEqual(meta.next.step);

      const second = duel('coordinator-async-2', args);
      await until('resumed', 120_000, () => getJson<RecoveryStatus>(`${base}/api/recovery`));
      await until('run complete', 300_000, async () => (await getJson<Status>(`${base}/api/status`)).run.state === 'complete', 300);
      // Every schedule position applied exactly once across the restart: 30 G and 30 D updates (k = 1).
      expect((await getJson<Status>(`${base}/api/status`)).run.versions).toEqual({ g: 30, d: 30 });
      expect((await getJson<RecoveryStatus>(`${base}/api/recovery`)).appliedResults).toBe(60);
      await Promise.all(workers.map((w) => stop(w)));
      await stop(second);
    } finally {
      await rm(asyncDir, { recursive: true, force: true });
    }
  }, 400_000);
});
