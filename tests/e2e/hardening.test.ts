import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCoordinatorOptions, startCoordinator, type RunningCoordinator } from '@duel/coordinator';
import { resolveRunConfig } from '@duel/trainer';
import { tf } from '@duel/gan';
import { RawClient, is } from '../support/raw-client';

/**
 * Connection caps, per-connection frame budgets and heartbeats against the
 * real coordinator: each refusal carries its code and close code, and the
 * coordinator keeps serving.
 */
describe('hardening (real coordinator, real sockets)', () => {
  let c: RunningCoordinator;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    const run = resolveRunConfig({ dataset: 'ring8', steps: 50, batchSize: 16, hidden: 8, seed: 4 });
    c = await startCoordinator(
      defaultCoordinatorOptions(run, { port: 0, shards: 1, maxConnectionsPerIp: 3, frameRate: { burst: 20, perSecond: 5 }, heartbeatMs: 300, taskTimeoutMs: 600, handshakeTimeoutMs: 5000 }),
    );
  });

  afterAll(async () => {
    await c?.close();
  });

  it('caps connections per address: the 4th gets DUEL_ERR_TOO_MANY_CONNECTIONS and close 4429; a freed slot is reusable', async () => {
    const held = await Promise.all([0, 1, 2].map(() => RawClient.connect(c.wsUrl)));
    const extra = await RawClient.connect(c.wsUrl);
    const err = await extra.next(is('error'));
    expect(err.code).toBe('DUEL_ERR_TOO_MANY_CONNECTIONS');
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect((await extra.closedWith()).code).toBe(4429);
    held[0].close();
    await held[0].closedWith();
    await new Promise((r) => setTimeout(r, 50));
    const again = await RawClient.connect(c.wsUrl);
    again.hello();
    expect((await again.next(is('welcome'))).workerId).toMatch(/^w-/);
    for (const w of [again, held[1], held[2]]) w.close();
    await Promise.all([again, held[1], held[2]].map((w) => w.closedWith()));
  });

  it('limits the frame rate of one connection: a flood gets DUEL_ERR_RATE_LIMITED and close 4429', async () => {
    await new Promise((r) => setTimeout(r, 50));
    const w = await RawClient.connect(c.wsUrl);
    w.hello();
    await w.next(is('welcome'));
    for (let i = 0; i < 60; i++) w.send({ t: 'pong', ts: i, echo: i });
    const err = await w.next((f): f is Extract<typeof f, { t: 'error' }> => f.t === 'error' && f.code === 'DUEL_ERR_RATE_LIMITED');
    expect(err.fatal).toBe(true);
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect((await w.closedWith()).code).toBe(4429);
  });

  it('pings an open connection and terminates one silent for 3 heartbeats and a task timeout (DUEL_ERR_HEARTBEAT_TIMEOUT)', async () => {
    await new Promise((r) => setTimeout(r, 50));
    const w = await RawClient.connect(c.wsUrl);
    w.hello();
    await w.next(is('welcome'));
    expect((await w.next(is('ping'), 2000)).ts).toBeGreaterThan(0);
    const t0 = Date.now();
    const err = await w.next((f): f is Extract<typeof f, { t: 'error' }> => f.t === 'error' && f.code === 'DUEL_ERR_HEARTBEAT_TIMEOUT', 5000);
    expect(err.fatal).toBe(true);
    await w.closedWith();
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('has changed no weights and still serves', async () => {
    expect(c.service.state.versions).toEqual({ G: 0, D: 0 });
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    for (const code of ['DUEL_ERR_TOO_MANY_CONNECTIONS', 'DUEL_ERR_RATE_LIMITED', 'DUEL_ERR_HEARTBEAT_TIMEOUT']) {
      expect(metrics).toMatch(new RegExp(`duel_rejections_total\\{code="${code}"\\} [1-9]`));
    }
  });
});
