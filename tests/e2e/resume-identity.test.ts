import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultCoordinatorOptions, startCoordinator, WorkerIdentity, type RunningCoordinator } from '@duel/coordinator';
import { tf } from '@duel/gan';
import type { AckFrame, Frame, TaskFrame, WelcomeFrame } from '@duel/protocol';
import { resolveRunConfig } from '@duel/trainer';
import { zerosLike } from '@duel/util';
import { RawClient, is } from '../support/raw-client';

const isTask = (f: Frame): f is TaskFrame => f.t === 'task';
const ackOf = (taskId: string) => (f: Frame): f is AckFrame => f.t === 'ack' && f.taskId === taskId;
const errors = (w: RawClient) => w.frames.filter((f) => f.t === 'error');

/**
 * Issue #7: `hello.resume` needs the resume token its welcome carried. Against
 * the real NestJS coordinator: a peer claiming another worker's id with a
 * forged, missing or foreign token gets a fresh id and a non-fatal
 * DUEL_ERR_RESUME_REFUSED, the victim stays connected and keeps working, the
 * refusal is counted; the owner with its real token keeps its id. The resume
 * key and the tokens never reach an HTTP answer or a log line.
 */
describe('resuming a workerId needs its resume token (real coordinator and sockets)', () => {
  let c: RunningCoordinator;
  let dir: string;
  /** Everything the coordinator logs (pino writes fd 2 synchronously), at every level. */
  const logged: string[] = [];
  const clients: RawClient[] = [];
  const connect = async () => {
    const w = await RawClient.connect(c.wsUrl);
    clients.push(w);
    return w;
  };

  beforeAll(async () => {
    await tf.setBackend('cpu');
    const write = fs.writeSync.bind(fs) as (...a: unknown[]) => number;
    vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: unknown, ...rest: unknown[]) => {
      if (fd !== 2) return write(fd, data, ...rest);
      const text = typeof data === 'string' ? data : Buffer.from(data as Uint8Array).toString('utf8');
      logged.push(text);
      return Buffer.byteLength(text);
    }) as typeof fs.writeSync);
    dir = await mkdtemp(join(tmpdir(), 'duel-resume-'));
    const run = resolveRunConfig({ dataset: 'ring8', steps: 50, batchSize: 16, hidden: 8, seed: 6 });
    c = await startCoordinator(defaultCoordinatorOptions(run, { port: 0, shards: 1, checkpointEvery: 1, store: { dataDir: dir } }), ['error', 'warn', 'log', 'debug', 'verbose']);
  });

  afterAll(async () => {
    for (const w of clients) w.close();
    await c?.close();
    vi.restoreAllMocks();
    await rm(dir, { recursive: true, force: true });
  });

  it('a forged, missing or foreign token evicts nobody; the owner keeps its id with its real token', async () => {
    const a = await connect();
    a.hello();
    const welcomeA = await a.next(is('welcome'));
    const idA = welcomeA.workerId;
    expect(welcomeA.resumeToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const taskA = await a.next(isTask);

    // Three hijack attempts on A's id while A holds an open task.
    const attempts: { token?: string }[] = [{ token: 'A'.repeat(43) }, {}];
    const refused: WelcomeFrame[] = [];
    for (const attempt of attempts) {
      const b = await connect();
      b.hello({ resume: { workerId: idA, ...attempt } });
      expect(await b.next(is('error'))).toMatchObject({ code: 'DUEL_ERR_RESUME_REFUSED', fatal: false });
      refused.push(await b.next(is('welcome')));
    }
    // A real token, but of another id (the attacker's own).
    const d = await connect();
    d.hello({ resume: { workerId: idA, token: refused[0].resumeToken } });
    expect(await d.next(is('error'))).toMatchObject({ code: 'DUEL_ERR_RESUME_REFUSED', fatal: false });
    refused.push(await d.next(is('welcome')));

    const ids = refused.map((w) => w.workerId);
    expect(new Set([idA, ...ids]).size).toBe(4);
    expect(refused.every((w) => w.resumeToken !== welcomeA.resumeToken)).toBe(true);
    // The attackers stay connected under their own ids: a refusal is not a reason to drop them.
    for (const w of clients.slice(1)) expect(w.closed).toBeNull();
    expect(a.closed).toBeNull();
    expect(errors(a)).toEqual([]);
    const status = (await (await fetch(`${c.url}/api/status`)).json()) as { workers: { id: string }[] };
    expect(status.workers.map((w) => w.id).sort()).toEqual([idA, ...ids].sort());

    // The attackers leave; A's open task is still A's, and A keeps training.
    for (const w of clients.slice(1)) {
      w.close();
      await w.closedWith();
    }
    const layout = c.service.layout;
    a.send({ t: 'result', taskId: taskA.taskId, workerId: idA, phase: taskA.phase, versions: taskA.versions, grads: zerosLike(layout[taskA.phase]), stats: { loss: 1, dReal: 0.5, dFake: 0.5, samples: taskA.batchSize, computeMs: 1 } });
    expect((await a.next(ackOf(taskA.taskId))).status).toBe('applied');
    await a.next((f): f is TaskFrame => isTask(f) && f.taskId !== taskA.taskId);

    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toMatch(/duel_rejections_total\{code="DUEL_ERR_RESUME_REFUSED"\} 3\b/);

    // The owner reconnects (its old socket still open, as after a network blip) with its real token:
    // same id, no refusal, and the stale socket is the one replaced.
    const a2 = await connect();
    a2.hello({ resume: { workerId: idA, token: welcomeA.resumeToken } });
    const again = await a2.next(is('welcome'));
    expect(again.workerId).toBe(idA);
    expect(again.resumeToken).toBe(welcomeA.resumeToken);
    expect(await a.closedWith()).toEqual({ code: 1000, reason: 'replaced by a reconnect' });
    expect(a2.closed).toBeNull();
    expect(errors(a2)).toEqual([]);
    expect(await (await fetch(`${c.url}/metrics`)).text()).toMatch(/duel_rejections_total\{code="DUEL_ERR_RESUME_REFUSED"\} 3\b/);

    // The key and the tokens stay out of every HTTP answer and every log line.
    const key = c.app.get(WorkerIdentity).checkpointKey()!;
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const secrets = [key, Buffer.from(key, 'base64url').toString('hex'), welcomeA.resumeToken!, ...refused.map((w) => w.resumeToken!)];
    for (const path of ['/api/status', '/api/recovery', '/api/history', '/api/model', '/metrics', '/readyz']) {
      const body = await (await fetch(`${c.url}${path}`)).text();
      for (const s of secrets) expect(body, path).not.toContain(s);
    }
    const logs = logged.join('');
    // The capture works: the refusals were logged, with the ids but without the tokens.
    expect(logs).toContain('DUEL_ERR_RESUME_REFUSED');
    expect(logs).toContain(idA);
    for (const s of secrets) expect(logs).not.toContain(s);
  });
});
