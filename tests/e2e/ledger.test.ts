import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCoordinatorOptions, startCoordinator, type RunningCoordinator } from '@duel/coordinator';
import type { ResultFrame } from '@duel/protocol';
import { resolveRunConfig } from '@duel/trainer';
import { tf } from '@duel/gan';
import type { NamedWeights } from '@duel/util';
import { RawClient, is } from '../support/raw-client';

/** The contribution ledger in /api/status: rejected work is counted by code and earns no credit; applied work does. */
describe('contribution ledger (real coordinator)', () => {
  let c: RunningCoordinator;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    const run = resolveRunConfig({ dataset: 'ring8', steps: 5, batchSize: 16, hidden: 8, seed: 6 });
    c = await startCoordinator(defaultCoordinatorOptions(run, { port: 0, shards: 1 }));
  });

  afterAll(async () => {
    await c?.close();
  });

  it('credits applied samples only', async () => {
    const w = await RawClient.connect(c.wsUrl);
    w.hello();
    const { workerId } = await w.next(is('welcome'));
    const task = await w.next(is('task'));
    const grads = (fill: number): NamedWeights =>
      c.service.layout[task.phase].map((s) => ({ name: s.name, shape: [...s.shape], data: new Float32Array(s.shape.reduce((a, b) => a * b, 1)).fill(fill) }));
    const result = (g: NamedWeights): ResultFrame => ({
      t: 'result', taskId: task.taskId, workerId, phase: task.phase, versions: task.versions, grads: g,
      stats: { loss: 1, dReal: 0.5, dFake: 0.5, samples: task.batchSize, computeMs: 1 },
    });
    const nan = grads(0);
    nan[0].data[0] = Number.NaN;
    w.send(result(nan));
    await w.next((f): f is Extract<typeof f, { t: 'error' }> => f.t === 'error' && f.code === 'DUEL_ERR_NON_FINITE');
    w.send(result(grads(0.001)));
    expect((await w.next(is('ack'))).status).toBe('applied');
    const status = (await (await fetch(`${c.url}/api/status`)).json()) as { workers: { id: string; accepted: number; rejected: number; rejectedByCode: Record<string, number>; credit: number; results: number }[] };
    const me = status.workers.find((x) => x.id === workerId)!;
    expect(me).toMatchObject({ accepted: 1, rejected: 1, credit: task.batchSize, rejectedByCode: { DUEL_ERR_NON_FINITE: 1 } });
    expect(me.results).toBe(1); // the NaN result was refused by the gateway before the round machine
    w.close();
  });
});
