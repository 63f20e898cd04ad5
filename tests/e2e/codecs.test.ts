import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { defaultCoordinatorOptions, startCoordinator, type RunningCoordinator } from '@duel/coordinator';
import { decodeTensors, encodeFrame, encodeTensors, type ResultFrame, type TaskFrame, type WelcomeFrame } from '@duel/protocol';
import { applyGradients, resolveRunConfig, type TrainingState } from '@duel/trainer';
import { tf } from '@duel/gan';
import { cloneWeights, type NamedWeights } from '@duel/util';
import { RawClient, is } from '../support/raw-client';
import { spawnWorkers } from '../support/workers';

function digest(...sets: NamedWeights[]): string {
  const h = createHash('sha256');
  for (const ws of sets) for (const w of ws) h.update(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength));
  return h.digest('hex');
}

function snapshot(s: TrainingState): TrainingState {
  const adam = (a: TrainingState['adam']['G']) => ({ ...a, m: cloneWeights(a.m), v: cloneWeights(a.v) });
  return {
    step: s.step,
    versions: { ...s.versions },
    weights: { G: cloneWeights(s.weights.G), D: cloneWeights(s.weights.D) },
    adam: { G: adam(s.adam.G), D: adam(s.adam.D) },
    gEma: s.gEma ? cloneWeights(s.gEma) : null,
  };
}

/** Codec negotiation over real frames: the coordinator asks for int8, decodes it and applies exactly what was sent. */
describe('gradient codecs (real NestJS app, real WebSocket frames)', () => {
  let c: RunningCoordinator;
  const run = resolveRunConfig({ dataset: 'ring8', steps: 6, batchSize: 16, hidden: 8, seed: 5 });

  beforeAll(async () => {
    await tf.setBackend('cpu');
    c = await startCoordinator(defaultCoordinatorOptions(run, { port: 0, shards: 1, codec: { name: 'int8' }, taskTimeoutMs: 60_000 }));
  });

  afterAll(async () => {
    await c?.close();
  });

  it('an old worker that lists no codecs is told fp32', async () => {
    const w = await RawClient.connect(c.wsUrl);
    w.hello();
    expect((await w.next(is('welcome'))).codec).toEqual({ name: 'fp32' });
    w.close();
  });

  it('a worker offering int8 is told int8; its int8 result is decoded and applied exactly; a bad scale changes nothing', async () => {
    const w = await RawClient.connect(c.wsUrl);
    // A backend name outside the known ones: the per-result histograms label it "other" (bounded label sets).
    w.hello({ capabilities: { backend: 'quantum-9000', device: 'test', maxBatch: 4096, codecs: ['fp32', 'int8'] } });
    const welcome: WelcomeFrame = await w.next(is('welcome'));
    expect(welcome.codec).toEqual({ name: 'int8' });
    const task: TaskFrame = await w.next(is('task'));
    expect(task.phase).toBe('D');
    const layout = c.service.layout.D;
    const grads: NamedWeights = layout.map((s, k) => ({
      name: s.name,
      shape: [...s.shape],
      data: Float32Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37 + k) * 0.1),
    }));
    const coded = encodeTensors(grads, { name: 'int8' });
    const header = { taskId: task.taskId, workerId: welcome.workerId, phase: 'D' as const, versions: task.versions, stats: { loss: 1, dReal: 0.5, dFake: 0.5, samples: 16, computeMs: 1 } };

    // A negative scale is refused before it reaches the round: BAD_FRAME, the connection closes, nothing moves.
    const before = digest(c.service.state.weights.G, c.service.state.weights.D);
    const spoiler = await RawClient.connect(c.wsUrl);
    spoiler.hello({ capabilities: { backend: 'cpu', device: 'test', maxBatch: 4096, codecs: ['int8'] } });
    const sw = await spoiler.next(is('welcome'));
    const bad = encodeFrame({ t: 'result', ...header, workerId: sw.workerId, codec: 'int8', grads: coded.map((t, i) => (i === 0 ? { ...t, scale: -1 } : t)) });
    spoiler.sendRaw(bad);
    expect((await spoiler.next(is('error'))).code).toBe('DUEL_ERR_BAD_FRAME');
    expect(digest(c.service.state.weights.G, c.service.state.weights.D)).toBe(before);
    spoiler.close();

    // What the coordinator must do with it: Adam on the int8-decoded gradient, from the same state.
    const expected = snapshot(c.service.state);
    applyGradients(expected, run, 'D', decodeTensors('int8', coded), task.step);

    w.sendRaw(encodeFrame({ t: 'result', ...header, codec: 'int8', grads: coded }));
    const ack = await w.next((f): f is Extract<typeof f, { t: 'ack' }> => f.t === 'ack' && f.taskId === task.taskId);
    expect(ack.status).toBe('applied');
    expect(c.service.state.versions.D).toBe(1);
    expect(digest(c.service.state.weights.D)).toBe(digest(expected.weights.D));
    expect(digest(c.service.state.weights.G, c.service.state.weights.D)).not.toBe(before);
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toContain('duel_task_seconds_count{kind="node",backend="other"} 1');
    expect(metrics).not.toContain('quantum-9000');
    w.close();
  });
});

describe('a real worker process negotiates int8', () => {
  it('every result it sends is int8-coded and applied, and the run completes', async () => {
    const run = resolveRunConfig({ dataset: 'ring8', steps: 5, batchSize: 32, hidden: 16, seed: 3 });
    const coord = await startCoordinator(defaultCoordinatorOptions(run, { port: 0, shards: 1, codec: { name: 'int8' } }));
    const seen: (string | undefined)[] = [];
    const original = coord.service.result.bind(coord.service);
    const spy = vi.spyOn(coord.service, 'result').mockImplementation((conn, f: ResultFrame) => {
      seen.push(f.codec);
      original(conn, f);
    });
    const workers = spawnWorkers(1, coord.wsUrl, 'wasm');
    try {
      await Promise.race([
        coord.service.whenDone(),
        new Promise((_, fail) => setTimeout(() => fail(new Error(`run did not complete: ${workers.tails.flat().slice(-10).join('\n')}`)), 120_000)),
      ]);
      expect(coord.service.state.versions).toEqual({ G: 5, D: 5 });
      expect(seen.length).toBeGreaterThanOrEqual(10);
      expect(new Set(seen)).toEqual(new Set(['int8']));
      const stats = coord.service.workerStats();
      expect(stats[0].accepted).toBeGreaterThanOrEqual(10);
      expect(stats[0].rejected).toBe(0);
    } finally {
      spy.mockRestore();
      await workers.stop();
      await coord.close();
    }
  }, 180_000);
});

describe('--codec-volunteer: a codec for volunteers apart from node workers', () => {
  it('tells node workers the run codec and volunteers theirs; validation of volunteers refuses a lossy one', async () => {
    const run = resolveRunConfig({ dataset: 'ring8', steps: 6, batchSize: 16, hidden: 8, seed: 5 });
    const c = await startCoordinator(defaultCoordinatorOptions(run, { port: 0, shards: 1, codecVolunteer: { name: 'int8' }, taskTimeoutMs: 60_000 }));
    try {
      const capabilities = { backend: 'cpu', device: 'test', maxBatch: 4096, codecs: ['fp32', 'fp16', 'int8'] };
      const node = await RawClient.connect(c.wsUrl);
      node.hello({ capabilities });
      expect((await node.next(is('welcome'))).codec).toEqual({ name: 'fp32' });
      node.close();

      const { token } = (await (await fetch(`${c.url}/api/volunteer/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { token: string };
      const volunteer = await RawClient.connect(c.wsUrl);
      volunteer.hello({ kind: 'volunteer', token, capabilities });
      expect((await volunteer.next(is('welcome'))).codec).toEqual({ name: 'int8' });
      volunteer.close();
      // A volunteer that does not offer it sends fp32, as for --codec (PROTOCOL.md §3.4).
      const old = await RawClient.connect(c.wsUrl);
      old.hello({ kind: 'volunteer', token, capabilities: { ...capabilities, codecs: ['fp32'] } });
      expect((await old.next(is('welcome'))).codec).toEqual({ name: 'fp32' });
      old.close();
    } finally {
      await c.close();
    }
    await expect(startCoordinator(defaultCoordinatorOptions(run, { port: 0, codecVolunteer: { name: 'fp16' }, validation: {} }))).rejects.toThrow(
      /DUEL_ERR_BAD_ARGUMENT: validation of volunteers needs the fp32 codec, not fp16/,
    );
  });
});
