import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultCoordinatorOptions, startCoordinator, type RunningCoordinator } from '@duel/coordinator';
import type { AckFrame, Frame, ResultFrame, TaskFrame } from '@duel/protocol';
import { resolveRunConfig } from '@duel/trainer';
import { zerosLike } from '@duel/util';
import { RawClient, is } from '../support/raw-client';

const ackOf = (taskId: string, n = 1) => (f: Frame): f is AckFrame => f.t === 'ack' && f.taskId === taskId && --n === 0;

/**
 * Exactly once at the wire: a result re-sent after a reconnect is acked
 * 'duplicate' and not applied again, and this holds across a coordinator
 * restart (the resumed coordinator knows the task from its checkpoint).
 */
describe('exactly once: a result re-sent after a reconnect, and after a coordinator restart', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
  });

  it('is acked duplicate and changes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'duel-once-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const run = resolveRunConfig({ dataset: 'ring8', steps: 3, batchSize: 16, seed: 4 });
    const opts = (resume: boolean) => defaultCoordinatorOptions(run, { port: 0, shards: 1, checkpointEvery: 1, store: { dataDir: dir }, resume });
    let c: RunningCoordinator = await startCoordinator(opts(false));
    cleanup.push(() => c.close());
    const layout = c.service.layout;
    const resultFor = (workerId: string, t: TaskFrame): ResultFrame => ({
      t: 'result',
      taskId: t.taskId,
      workerId,
      phase: t.phase,
      versions: t.versions,
      grads: zerosLike(layout[t.phase]),
      stats: { loss: 1, dReal: 0.5, dFake: 0.5, samples: t.batchSize, computeMs: 1 },
    });

    // Step 1: the D task, then the G task, each answered once and applied.
    let w = await RawClient.connect(c.wsUrl);
    w.hello();
    const { workerId, resumeToken } = await w.next(is('welcome'));
    expect(resumeToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const resume = { workerId, token: resumeToken! };
    const d = await w.next((f): f is TaskFrame => f.t === 'task' && f.phase === 'D');
    w.send(resultFor(workerId, d));
    expect((await w.next(ackOf(d.taskId))).status).toBe('applied');
    const g = await w.next((f): f is TaskFrame => f.t === 'task' && f.phase === 'G');
    w.send(resultFor(workerId, g));
    expect((await w.next(ackOf(g.taskId))).status).toBe('applied');
    await w.next((f): f is TaskFrame => f.t === 'task' && f.step === 2);
    expect(c.service.state.versions).toEqual({ G: 1, D: 1 });

    // Reconnect as the same worker and send the G result again.
    w.close();
    await w.closedWith();
    w = await RawClient.connect(c.wsUrl);
    w.hello({ resume });
    expect((await w.next(is('welcome'))).workerId).toBe(workerId);
    w.send(resultFor(workerId, g));
    expect(await w.next(ackOf(g.taskId))).toMatchObject({ status: 'duplicate', code: 'DUEL_ERR_DUPLICATE' });
    expect(c.service.state.versions).toEqual({ G: 1, D: 1 });
    w.close();

    // A restart from the checkpoint of step 1: the worker keeps its id (the resume key is in the
    // checkpoint), and the D result of step 1 is still a duplicate.
    await c.close();
    c = await startCoordinator(opts(true));
    expect(c.service.state.versions).toEqual({ G: 1, D: 1 });
    w = await RawClient.connect(c.wsUrl);
    cleanup.push(async () => w.close());
    w.hello({ resume });
    expect((await w.next(is('welcome'))).workerId).toBe(workerId);
    w.send(resultFor(workerId, d));
    expect(await w.next(ackOf(d.taskId))).toMatchObject({ status: 'duplicate', code: 'DUEL_ERR_DUPLICATE' });
    expect(c.service.state.versions).toEqual({ G: 1, D: 1 });
    // Training carries on from step 2 with this worker.
    const next = await w.next((f): f is TaskFrame => f.t === 'task');
    expect(next).toMatchObject({ taskId: '2.D0.0.0', versions: { g: 1, d: 1 } });
    expect(w.frames.filter((f) => f.t === 'error')).toEqual([]);
  });

  it('with DUEL_SESSION_SECRET, a worker keeps its id across a restart; under another secret its token no longer verifies', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'duel-once-secret-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const run = resolveRunConfig({ dataset: 'ring8', steps: 3, batchSize: 16, seed: 5 });
    const opts = (resume: boolean, sessionSecret: string) =>
      defaultCoordinatorOptions(run, { port: 0, shards: 1, checkpointEvery: 1, store: { dataDir: dir }, resume, sessionSecret });
    let c = await startCoordinator(opts(false, 'secret-one'));
    cleanup.push(() => c.close());
    let w = await RawClient.connect(c.wsUrl);
    w.hello();
    const first = await w.next(is('welcome'));
    const resume = { workerId: first.workerId, token: first.resumeToken! };
    w.close();
    await w.closedWith();

    // The same secret: the restarted coordinator derives the same key, so the id and its token carry over.
    await c.close();
    c = await startCoordinator(opts(true, 'secret-one'));
    w = await RawClient.connect(c.wsUrl);
    w.hello({ resume });
    const again = await w.next(is('welcome'));
    expect(again.workerId).toBe(resume.workerId);
    expect(again.resumeToken).toBe(resume.token);
    expect(w.frames.filter((f) => f.t === 'error')).toEqual([]);
    w.close();
    await w.closedWith();

    // Another secret: the key comes from the secret, never from the checkpoint, so the old token is refused.
    await c.close();
    c = await startCoordinator(opts(true, 'secret-two'));
    w = await RawClient.connect(c.wsUrl);
    cleanup.push(async () => w.close());
    w.hello({ resume });
    expect(await w.next(is('error'))).toMatchObject({ code: 'DUEL_ERR_RESUME_REFUSED', fatal: false });
    expect((await w.next(is('welcome'))).workerId).not.toBe(resume.workerId);
  });
});
