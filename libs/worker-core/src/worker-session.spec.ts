import { CloseCodes, encodeFrame, PROTOCOL_VERSION, type ResultFrame } from '@duel/protocol';
import { initWeights, tf } from '@duel/gan';
import { DuelError, ErrorCodes } from '@duel/util';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { FakeTransport, feed, handshake, newSession, task, TEST_RUN, TINY_LAYOUT } from './test-fixtures';
import type { FatalInfo } from './session-options';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('WorkerSession handshake', () => {
  it('sends hello with kind, token and capabilities (with the codecs it can send), and no resume on the first connection', () => {
    const t = new FakeTransport();
    newSession({ token: 's3cret', kind: 'volunteer' }).onOpen(t);
    const capabilities = { backend: 'cpu', device: 'test', maxBatch: 1024, codecs: ['fp32', 'fp16', 'int8', 'topk'] };
    expect(t.sent).toEqual([{ t: 'hello', protocol: PROTOCOL_VERSION, kind: 'volunteer', token: 's3cret', capabilities }]);
  });

  it('resumes its workerId on reconnect, proving it with the welcome\'s resume token, and keeps the model of the same run', async () => {
    const welcomes: boolean[] = [];
    const logs: [string, string, Record<string, unknown>][] = [];
    const s = newSession({ events: { welcome: (_f, reused) => welcomes.push(reused), log: (l, e, f) => logs.push([l, e, f]) } });
    await handshake(s, new FakeTransport(), 'w-9', 'tok-w9');
    s.onClose();
    const t2 = new FakeTransport();
    s.onOpen(t2);
    expect(t2.of('hello')[0].resume).toEqual({ workerId: 'w-9', token: 'tok-w9' });
    feed(s, { t: 'welcome', workerId: 'w-9', run: TEST_RUN, heartbeatMs: 1000, versions: { g: 0, d: 0 }, resumeToken: 'tok-w9' });
    await s.idle();
    expect(welcomes).toEqual([false, true]);
    expect(s.counters.connections).toBe(2);
    // The token is a secret: no log line carries it.
    expect(JSON.stringify(logs)).not.toContain('tok-w9');
    s.dispose();
  });

  it('carries on under the new id (and its token) when the coordinator refuses the resume', async () => {
    const logs: [string, string, Record<string, unknown>][] = [];
    const fatals: unknown[] = [];
    const s = newSession({ events: { log: (l, e, f) => logs.push([l, e, f]), fatal: (e) => fatals.push(e) } });
    await handshake(s, new FakeTransport(), 'w-1', 'tok-1');
    s.onClose();
    const t2 = new FakeTransport();
    s.onOpen(t2);
    feed(s, { t: 'error', code: ErrorCodes.RESUME_REFUSED, message: 'resume of w-1 refused', fatal: false });
    feed(s, { t: 'welcome', workerId: 'w-2', run: TEST_RUN, heartbeatMs: 1000, versions: { g: 0, d: 0 }, resumeToken: 'tok-2' });
    await s.idle();
    expect(s.workerId).toBe('w-2');
    expect(s.connected).toBe(true);
    expect(t2.closed).toBeNull();
    expect(fatals).toEqual([]);
    expect(logs.find(([, e]) => e === 'new-worker-id')).toEqual(['warn', 'new-worker-id', { workerId: 'w-1', asked: 'w-1', assigned: 'w-2' }]);
    // Results go out under the new id, and the next reconnect resumes it.
    feed(s, { t: 'weights', net: 'G', version: 0, tensors: initWeights(TINY_LAYOUT.G, 1) });
    feed(s, { t: 'weights', net: 'D', version: 0, tensors: initWeights(TINY_LAYOUT.D, 2) });
    feed(s, task());
    await s.idle();
    expect(t2.of('result')[0].workerId).toBe('w-2');
    s.onClose();
    const t3 = new FakeTransport();
    s.onOpen(t3);
    expect(t3.of('hello')[0].resume).toEqual({ workerId: 'w-2', token: 'tok-2' });
    s.dispose();
  });

  it('resumes without a token after a welcome that had none (an older coordinator)', async () => {
    const s = newSession();
    await handshake(s, new FakeTransport(), 'w-3');
    s.onClose();
    const t2 = new FakeTransport();
    s.onOpen(t2);
    expect(t2.of('hello')[0].resume).toEqual({ workerId: 'w-3' });
    s.dispose();
  });

  it('refuses a task before welcome with NOT_HELLO and closes 4400', () => {
    const t = new FakeTransport();
    const s = newSession();
    s.onOpen(t);
    feed(s, task());
    expect(t.of('error')[0]).toMatchObject({ code: ErrorCodes.NOT_HELLO, fatal: true });
    expect(t.closed?.code).toBe(CloseCodes.BAD_FRAME);
    expect(s.connected).toBe(false);
  });

  it('answers garbage bytes with BAD_FRAME and closes', () => {
    const t = new FakeTransport();
    const s = newSession();
    s.onOpen(t);
    s.onMessage(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect(t.of('error')[0].code).toBe(ErrorCodes.BAD_FRAME);
    expect(t.closed?.code).toBe(CloseCodes.BAD_FRAME);
  });

  it('ends the connection, permanently, when the welcome names a model that does not fit the dataset', async () => {
    const t = new FakeTransport();
    const fatals: [DuelError, FatalInfo][] = [];
    const s = newSession({ events: { fatal: (e, info) => fatals.push([e, info]) } });
    s.onOpen(t);
    const images = { ...TEST_RUN, model: { ...TEST_RUN.model, dataShape: [3], generator: { input: [2], layers: [{ type: 'dense', units: 3 }] } } };
    feed(s, { t: 'welcome', workerId: 'w-1', run: images, heartbeatMs: 1000, versions: { g: 0, d: 0 } });
    await s.idle();
    expect(t.of('error')[0]).toMatchObject({ code: ErrorCodes.BAD_SPEC, fatal: true });
    expect(t.closed).not.toBeNull();
    expect(fatals[0][0].code).toBe(ErrorCodes.BAD_SPEC);
    expect(fatals[0][1]).toEqual({ permanent: true, remote: false });
  });
});

describe('WorkerSession frames', () => {
  it('answers ping with pong echoing the ping ts, even before welcome', () => {
    const t = new FakeTransport();
    const s = newSession({ clock: () => 42 });
    s.onOpen(t);
    feed(s, { t: 'ping', ts: 1234.5 });
    expect(t.sent[1]).toEqual({ t: 'pong', ts: 42, echo: 1234.5 });
  });

  it('turns a D task and a G task into results with the right gradient layout and stats', async () => {
    const t = new FakeTransport();
    const s = newSession();
    await handshake(s, t);
    feed(s, task({ taskId: 'd-1', phase: 'D', batchSize: 8 }));
    feed(s, task({ taskId: 'g-1', phase: 'G', batchSize: 8, sub: 0 }));
    await s.idle();
    const [d, g] = t.of('result');
    expect(t.sent.map((f) => f.t)).toEqual(['hello', 'result', 'result']);
    expect(d.taskId).toBe('d-1');
    expect(d.workerId).toBe('w-1');
    expect(d.versions).toEqual({ g: 0, d: 0 });
    expect(d.grads.map((w) => [w.name, w.shape])).toEqual(TINY_LAYOUT.D.map((w) => [w.name, w.shape]));
    expect(g.grads.map((w) => [w.name, w.shape])).toEqual(TINY_LAYOUT.G.map((w) => [w.name, w.shape]));
    expect(d.stats.samples).toBe(16); // 8 real + 8 fake
    expect(g.stats.samples).toBe(8);
    expect(d.stats.dReal).toBeGreaterThan(0);
    expect(g.stats.dReal).toBe(0); // not computed in a G step
    expect(s.counters).toMatchObject({ tasksDone: 2, samples: 24, abstained: 0 });
    s.dispose();
  });

  it('abstains with a non-fatal STALE_VERSION naming the task when versions differ', async () => {
    const t = new FakeTransport();
    const s = newSession();
    await handshake(s, t);
    feed(s, task({ taskId: 't-7', versions: { g: 0, d: 3 } }));
    await s.idle();
    expect(t.of('result')).toHaveLength(0);
    const err = t.of('error')[0];
    expect(err).toMatchObject({ code: ErrorCodes.STALE_VERSION, fatal: false });
    expect(err.message).toMatch(/^task t-7: task wants G@0 D@3, worker holds G@0 D@0/);
    expect(s.connected).toBe(true);
    // After the D weights it needs arrive, the same task is computed.
    feed(s, { t: 'weights', net: 'D', version: 3, tensors: initWeights(TINY_LAYOUT.D, 5) });
    feed(s, task({ taskId: 't-7', versions: { g: 0, d: 3 } }));
    await s.idle();
    expect(t.of('result')[0].versions).toEqual({ g: 0, d: 3 });
    expect(s.counters.abstained).toBe(1);
    s.dispose();
  });

  it('ignores weights older than ones received on the same connection, but not after a reconnect', async () => {
    const t = new FakeTransport();
    const s = newSession();
    await handshake(s, t);
    feed(s, { t: 'weights', net: 'D', version: 5, tensors: initWeights(TINY_LAYOUT.D, 5) });
    feed(s, { t: 'weights', net: 'D', version: 4, tensors: initWeights(TINY_LAYOUT.D, 4) });
    feed(s, task({ taskId: 'old', versions: { g: 0, d: 4 } }));
    feed(s, task({ taskId: 'new', versions: { g: 0, d: 5 } }));
    await s.idle();
    expect(t.of('result').map((r) => r.taskId)).toEqual(['new']);
    expect(t.of('error').map((e) => e.code)).toEqual([ErrorCodes.STALE_VERSION]);
    // A coordinator restarted from an older checkpoint starts lower again.
    s.onClose();
    const t2 = new FakeTransport();
    await handshake(s, t2); // versions (0, 0)
    feed(s, task({ taskId: 'again' }));
    await s.idle();
    expect(t2.of('result').map((r) => r.taskId)).toEqual(['again']);
    s.dispose();
  });

  it('reports non-finite weights and closes, to reconnect for a clean copy', async () => {
    const t = new FakeTransport();
    const s = newSession();
    await handshake(s, t);
    const bad = initWeights(TINY_LAYOUT.D, 3);
    bad[0].data[0] = Number.NaN;
    feed(s, { t: 'weights', net: 'D', version: 1, tensors: bad });
    expect(t.of('error')[0]).toMatchObject({ code: ErrorCodes.NON_FINITE, fatal: true });
    expect(t.closed?.code).toBe(CloseCodes.BAD_FRAME);
    s.dispose();
  });

  it('holds one task computing and one queued; a third gets RATE_LIMITED', async () => {
    const t = new FakeTransport();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const s = newSession({ beforeTask: () => gate });
    await handshake(s, t);
    for (const id of ['a', 'b', 'c']) feed(s, task({ taskId: id }));
    expect(t.of('error')[0]).toMatchObject({ code: ErrorCodes.RATE_LIMITED, fatal: false, message: expect.stringMatching(/^task c:/) });
    release();
    await s.idle();
    expect(t.of('result').map((r) => r.taskId)).toEqual(['a', 'b']);
    s.dispose();
  });

  it('counts acks by status', async () => {
    const counts: number[][] = [];
    const s = newSession({ events: { counters: (c) => counts.push([c.accepted, c.rejected, c.duplicates]) } });
    await handshake(s, new FakeTransport());
    feed(s, { t: 'ack', taskId: 'a', status: 'applied' });
    feed(s, { t: 'ack', taskId: 'b', status: 'rejected', code: ErrorCodes.STALE_VERSION });
    feed(s, { t: 'ack', taskId: 'c', status: 'duplicate', code: ErrorCodes.DUPLICATE });
    expect(counts.at(-1)).toEqual([1, 1, 1]);
    s.dispose();
  });

  it('pauses on wait until the next task', async () => {
    const s = newSession();
    await handshake(s, new FakeTransport());
    feed(s, { t: 'wait', reason: 'no_work', retryAfterMs: 100, reconnect: false });
    expect(s.paused).toBe(true);
    feed(s, task());
    expect(s.paused).toBe(false);
    await s.idle();
    s.dispose();
  });

  it('closes on a fatal error from the coordinator and says whether to retry', () => {
    const t = new FakeTransport();
    const fatals: FatalInfo[] = [];
    const s = newSession({ events: { fatal: (_e, info) => fatals.push(info) } });
    s.onOpen(t);
    feed(s, { t: 'error', code: ErrorCodes.UNAUTHORIZED, message: 'bad token', fatal: true });
    expect(t.closed?.code).toBe(CloseCodes.NORMAL);
    expect(fatals).toEqual([{ permanent: true, remote: true }]);
    const t2 = new FakeTransport();
    s.onOpen(t2);
    feed(s, { t: 'error', code: ErrorCodes.SHUTTING_DOWN, message: 'bye', fatal: true, retryAfterMs: 500 });
    expect(fatals[1]).toEqual({ permanent: false, remote: true, retryAfterMs: 500 });
  });

  it('drain finishes the in-flight task, drops the queued one, then bye closes 1000', async () => {
    const t = new FakeTransport();
    const started: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const s = newSession({
      beforeTask: (tk) => {
        started.push(tk.taskId);
        return gate;
      },
    });
    await handshake(s, t);
    feed(s, task({ taskId: 'a' }));
    feed(s, task({ taskId: 'b' }));
    await vi.waitFor(() => expect(started).toEqual(['a']));
    const drained = s.drain();
    feed(s, task({ taskId: 'c' }));
    release();
    await drained;
    s.bye('SIGTERM');
    expect(t.of('result').map((r) => r.taskId)).toEqual(['a']);
    expect(s.counters.dropped).toBe(2);
    expect(t.sent.at(-1)).toEqual({ t: 'bye', reason: 'SIGTERM' });
    expect(t.closed).toEqual({ code: 1000, reason: 'SIGTERM' });
    s.dispose();
  });

  it('drops a result whose connection closed while it computed', async () => {
    const t = new FakeTransport();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const s = newSession({ beforeTask: () => gate });
    await handshake(s, t);
    feed(s, task());
    s.onClose();
    release();
    await s.idle();
    expect(t.of('result')).toHaveLength(0);
    expect(s.counters.dropped).toBe(1);
    s.dispose();
  });

  it('never sends a result frame that the coordinator would refuse', async () => {
    const t = new FakeTransport();
    const s = newSession();
    await handshake(s, t);
    feed(s, task({ phase: 'G' }));
    await s.idle();
    const r: ResultFrame = t.of('result')[0];
    // FakeTransport decoded it with the real validator (finite stats, float32 tensors).
    expect(encodeFrame(r).byteLength).toBeGreaterThan(0);
    s.dispose();
  });
});
