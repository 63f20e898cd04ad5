import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { defaultCoordinatorOptions, startCoordinator, type RunningCoordinator } from '@duel/coordinator';
import { encodeFrame, type ResultFrame } from '@duel/protocol';
import { resolveRunConfig } from '@duel/trainer';
import { tf } from '@duel/gan';
import type { NamedWeights } from '@duel/util';
import { RawClient, is } from '../support/raw-client';

function digest(...sets: NamedWeights[]): string {
  const h = createHash('sha256');
  for (const ws of sets) for (const w of ws) h.update(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength));
  return h.digest('hex');
}

/**
 * Bad input gets a stable code (and a close where the code says so), and
 * changes nothing: the coordinator stays up and its weights stay bit-identical.
 */
describe('coordinator refusals (real NestJS app, real WebSocket frames)', () => {
  let c: RunningCoordinator;
  let before: string;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    const run = resolveRunConfig({ dataset: 'ring8', steps: 100, batchSize: 16, hidden: 8, seed: 5 });
    c = await startCoordinator(defaultCoordinatorOptions(run, { port: 0, shards: 1, handshakeTimeoutMs: 1500 }));
    before = digest(c.service.state.weights.G, c.service.state.weights.D);
  });

  afterAll(async () => {
    await c?.close();
  });

  const unchanged = () => {
    expect(digest(c.service.state.weights.G, c.service.state.weights.D)).toBe(before);
    expect(c.service.state.versions).toEqual({ G: 0, D: 0 });
  };

  it('refuses a wrong protocol version with DUEL_ERR_PROTOCOL_VERSION and close 4409', async () => {
    const w = await RawClient.connect(c.wsUrl);
    w.hello({ protocol: 99 });
    const err = await w.next(is('error'));
    expect(err.code).toBe('DUEL_ERR_PROTOCOL_VERSION');
    expect((await w.closedWith()).code).toBe(4409);
    unchanged();
  });

  it('refuses a truncated frame with DUEL_ERR_BAD_FRAME and close 4400', async () => {
    const w = await RawClient.connect(c.wsUrl);
    const good = encodeFrame({ t: 'ping', ts: 1 });
    w.sendRaw(good.subarray(0, good.length - 3));
    const err = await w.next(is('error'));
    expect(err.code).toBe('DUEL_ERR_BAD_FRAME');
    expect((await w.closedWith()).code).toBe(4400);
    unchanged();
  });

  it('refuses frames before hello with DUEL_ERR_NOT_HELLO', async () => {
    const w = await RawClient.connect(c.wsUrl);
    w.send({ t: 'ping', ts: 1 });
    expect((await w.next(is('error'))).code).toBe('DUEL_ERR_NOT_HELLO');
    expect((await w.closedWith()).code).toBe(4400);
    unchanged();
  });

  it('closes a silent connection at the handshake timeout', async () => {
    const w = await RawClient.connect(c.wsUrl);
    expect((await w.next(is('error'))).code).toBe('DUEL_ERR_HANDSHAKE_TIMEOUT');
    expect((await w.closedWith()).code).toBe(4408);
  });

  it('refuses a result with a wrong tensor shape (SHAPE_MISMATCH) and one with a NaN gradient (NON_FINITE)', async () => {
    const w = await RawClient.connect(c.wsUrl);
    w.hello();
    const welcome = await w.next(is('welcome'));
    const task = await w.next(is('task'));
    const layout = c.service.layout[task.phase];
    const result = (grads: NamedWeights): ResultFrame => ({
      t: 'result',
      taskId: task.taskId,
      workerId: welcome.workerId,
      phase: task.phase,
      versions: task.versions,
      grads,
      stats: { loss: 1, dReal: 0.5, dFake: 0.5, samples: task.batchSize, computeMs: 1 },
    });
    const zeros = () => layout.map((s) => ({ name: s.name, shape: [...s.shape], data: new Float32Array(s.shape.reduce((a, b) => a * b, 1)) }));

    const nan = zeros();
    nan[0].data[3] = Number.NaN;
    w.send(result(nan));
    expect((await w.next((f): f is Extract<typeof f, { t: 'error' }> => f.t === 'error' && f.code === 'DUEL_ERR_NON_FINITE')).fatal).toBe(false);
    unchanged();

    const wrong = zeros();
    wrong[0] = { ...wrong[0], shape: [wrong[0].shape[0] + 1, ...wrong[0].shape.slice(1)], data: new Float32Array(wrong[0].data.length + wrong[0].shape.slice(1).reduce((a, b) => a * b, 1)) };
    w.send(result(wrong));
    expect((await w.next((f): f is Extract<typeof f, { t: 'error' }> => f.t === 'error' && f.code === 'DUEL_ERR_SHAPE_MISMATCH')).fatal).toBe(true);
    expect((await w.closedWith()).code).toBe(4400);
    unchanged();
  });

  it('is still up and serving after all of that', async () => {
    const res = await fetch(`${c.url}/api/status`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { run: { step: number } };
    expect(body.run.step).toBe(0);
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toMatch(/duel_rejections_total\{code="DUEL_ERR_BAD_FRAME"\} [1-9]/);
  });
});
