import { decodeFrame, encodeFrame, type Frame, type WorkerFrame } from '@duel/protocol';
import { initWeights, tf } from '@duel/gan';
import { resolveDataset } from '@duel/datasets';
import { ErrorCodes } from '@duel/util';
import { beforeAll, describe, expect, it } from 'vitest';
import { task, TEST_RUN, TINY_LAYOUT } from './test-fixtures';
import { VolunteerRuntime, type SocketLike, type VolunteerStatus } from './volunteer-runtime';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A WebSocket stand-in: the test plays the coordinator through it with the real codec. */
class FakeSocket implements SocketLike {
  binaryType = 'blob';
  readyState = 0;
  readonly sent: WorkerFrame[] = [];
  closedWith: number | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  send(data: Uint8Array): void {
    this.sent.push(decodeFrame(data, { from: 'worker' }) as WorkerFrame);
  }
  close(code = 1000, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.closedWith = code;
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  /** The coordinator sends a frame. */
  push(f: Frame): void {
    const b = encodeFrame(f);
    this.onmessage?.({ data: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) });
  }
  of<T extends WorkerFrame['t']>(t: T): Extract<WorkerFrame, { t: T }>[] {
    return this.sent.filter((f): f is Extract<WorkerFrame, { t: T }> => f.t === t);
  }
}

async function until(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function setup(over: { share?: number } = {}) {
  const sockets: FakeSocket[] = [];
  const tokens: string[] = [];
  const states: VolunteerStatus['state'][] = [];
  const rt = new VolunteerRuntime({
    url: 'ws://coordinator/ws',
    capabilities: { backend: 'wasm', device: 'test', maxBatch: 1024 },
    loadDataset: (name) => resolveDataset(name),
    getToken: async () => {
      tokens.push(`tok-${tokens.length + 1}`);
      return { token: tokens[tokens.length - 1], expiresAt: Date.now() + 3_600_000 };
    },
    openSocket: () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    },
    jitterSeed: 1,
    backoff: { baseMs: 1, capMs: 5 },
    share: over.share,
    onStatus: (s) => {
      if (states.at(-1) !== s.state) states.push(s.state);
    },
  });
  return { rt, sockets, tokens, states };
}

/** hello → welcome → weights, as the coordinator does. */
async function welcome(s: FakeSocket, workerId = 'w-7'): Promise<void> {
  s.open();
  s.push({ t: 'welcome', workerId, run: TEST_RUN, heartbeatMs: 60_000, versions: { g: 0, d: 0 }, resumeToken: `rt-${workerId}` });
  s.push({ t: 'weights', net: 'G', version: 0, tensors: initWeights(TINY_LAYOUT.G, 1) });
  s.push({ t: 'weights', net: 'D', version: 0, tensors: initWeights(TINY_LAYOUT.D, 2) });
}

describe('VolunteerRuntime', () => {
  it('joins as a volunteer with its session token, computes tasks, and counts acks', async () => {
    const { rt, sockets, tokens, states } = setup();
    rt.start();
    await until(() => sockets.length === 1, 'a socket');
    const s = sockets[0];
    await welcome(s);
    expect(s.of('hello')[0]).toMatchObject({ kind: 'volunteer', token: 'tok-1', capabilities: { backend: 'wasm' } });
    s.push(task({ taskId: 't-1' }));
    await until(() => s.of('result').length === 1, 'a result');
    s.push({ t: 'ack', taskId: 't-1', status: 'applied' });
    await until(() => rt.status().counters.accepted === 1, 'the ack');
    expect(rt.status()).toMatchObject({ state: 'connected', workerId: 'w-7', counters: { tasksDone: 1, accepted: 1 } });
    expect(tokens).toEqual(['tok-1']);
    expect(states).toEqual(['connecting', 'connected']);
    await rt.stop();
  });

  it('reconnects after a lost connection, resuming its id with the same (unexpired) token', async () => {
    const { rt, sockets, tokens } = setup();
    rt.start();
    await until(() => sockets.length === 1, 'a socket');
    await welcome(sockets[0]);
    await until(() => rt.status().state === 'connected', 'connected');
    sockets[0].close(1006, 'network');
    await until(() => sockets.length === 2, 'a second socket');
    sockets[1].open();
    expect(sockets[1].of('hello')[0]).toMatchObject({ token: 'tok-1' });
    // The browser volunteer proves its id with the welcome's resume token, which the page never sees.
    expect(sockets[1].of('hello')[0].resume).toEqual({ workerId: 'w-7', token: 'rt-w-7' });
    expect(JSON.stringify(rt.status())).not.toContain('rt-w-7');
    expect(tokens).toHaveLength(1);
    await rt.stop();
  });

  it('fetches a new session token after SESSION_EXPIRED', async () => {
    const { rt, sockets, tokens } = setup();
    rt.start();
    await until(() => sockets.length === 1, 'a socket');
    sockets[0].open();
    sockets[0].push({ t: 'error', code: ErrorCodes.SESSION_EXPIRED, message: 'expired', fatal: true });
    await until(() => sockets.length === 2, 'a reconnect');
    sockets[1].open();
    expect(sockets[1].of('hello')[0].token).toBe('tok-2');
    expect(tokens).toEqual(['tok-1', 'tok-2']);
    await rt.stop();
  });

  it('stops for good on a permanent error other than a session problem', async () => {
    const { rt, sockets } = setup();
    rt.start();
    await until(() => sockets.length === 1, 'a socket');
    sockets[0].open();
    sockets[0].push({ t: 'error', code: ErrorCodes.PROTOCOL_VERSION, message: 'other protocol', fatal: true });
    await until(() => rt.status().state === 'failed', 'failed');
    await new Promise((r) => setTimeout(r, 50));
    expect(sockets).toHaveLength(1);
  });

  it('pause finishes or drops the pending task and says bye; start comes back; stop says bye and stays away', async () => {
    const { rt, sockets } = setup();
    rt.start();
    await until(() => sockets.length === 1, 'a socket');
    await welcome(sockets[0]);
    sockets[0].push(task({ taskId: 't-1' }));
    const paused = rt.pause('tab hidden');
    await paused;
    // A task already computing finishes and is sent; one still queued behind the weights is dropped (the coordinator reassigns it).
    expect(sockets[0].of('result').length + rt.status().counters.dropped).toBe(1);
    expect(sockets[0].of('bye')).toEqual([{ t: 'bye', reason: 'tab hidden' }]);
    expect(sockets[0].closedWith).toBe(1000);
    expect(rt.status().state).toBe('paused');
    await new Promise((r) => setTimeout(r, 30));
    expect(sockets).toHaveLength(1); // no reconnect while paused

    rt.start();
    await until(() => sockets.length === 2, 'a socket after resume');
    await welcome(sockets[1]);
    sockets[1].push(task({ taskId: 't-2' }));
    await until(() => sockets[1].of('result').length === 1, 'a task after resume');
    await rt.stop('volunteer stopped');
    expect(sockets[1].of('bye')).toEqual([{ t: 'bye', reason: 'volunteer stopped' }]);
    expect(rt.status().state).toBe('stopped');
    expect(() => rt.start()).toThrow(/stopped/);
  });

  it('throttles to the compute share: at share 0.25 it rests about 3x the compute time before the next task', async () => {
    const { rt, sockets } = setup({ share: 0.25 });
    rt.start();
    await until(() => sockets.length === 1, 'a socket');
    const s = sockets[0];
    await welcome(s);
    s.push(task({ taskId: 't-1', batchSize: 64 }));
    await until(() => s.of('result').length === 1, 'the first result');
    const computeMs = s.of('result')[0].stats.computeMs;
    const t0 = performance.now();
    s.push(task({ taskId: 't-2', batchSize: 64 }));
    await until(() => s.of('result').length === 2, 'the second result');
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(3 * computeMs * 0.9);
    expect(() => rt.setShare(0)).toThrow(RangeError);
    await rt.stop();
  });
});
