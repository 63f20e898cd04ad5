import { describe, expect, it } from 'vitest';
import { planTasks, taskSeed, type RunConfig } from '@duel/trainer';
import { createStrategyFromSpec } from '@duel/aggregation';
import { ErrorCodes } from '@duel/util';
import { RoundErrorCodes } from './codes';
import { config, Driver, only, RUN, SpyStrategy } from './test-harness';
import type { RoundTask } from './types';

const run = RUN as RunConfig;

/** Answers every outstanding task (latest per worker, in join order) until nothing is sent. */
function drain(d: Driver, workers: string[], limit = 100): void {
  for (let i = 0; i < limit && !d.st.complete; i++) {
    const busy = workers.filter((w) => d.st.workers.get(w)?.task);
    if (busy.length === 0) return;
    for (const w of busy) d.answer(w);
  }
}

describe('sync rounds: task plan', () => {
  it('one worker with shards auto gets exactly the planTasks task of every update, then RunComplete', () => {
    const d = new Driver(config({ shards: 'auto' }));
    d.join('w1');
    drain(d, ['w1']);
    const expected = [];
    for (let step = 1; step <= RUN.steps; step++) {
      for (let sub = 0; sub < RUN.k; sub++) expected.push(...planTasks(run, 'D', step, sub, 1));
      expected.push(...planTasks(run, 'G', step, 0, 1));
    }
    const sent = d.tasks();
    expect(sent.map(({ phase, step, sub, shard, numShards, batch }) => ({ phase, step, sub, shard, numShards, batch }))).toEqual(expected);
    expect(sent.map((t) => t.seed)).toEqual(expected.map((t) => taskSeed(RUN.seed, t)));
    expect(sent.map((t) => t.taskId)).toEqual(['1.D0.0.0', '1.D1.0.0', '1.G0.0.0', '2.D0.0.0', '2.D1.0.0', '2.G0.0.0']);
    const applies = only(d.log, 'ApplyUpdate');
    expect(applies.map((a) => `${a.net}${a.step}.${a.sub}@${a.version}`)).toEqual(['D1.0@1', 'D1.1@2', 'G1.0@1', 'D2.0@3', 'D2.1@4', 'G2.0@2']);
    expect(only(d.log, 'RunComplete')).toEqual([{ type: 'RunComplete', step: 2 }]);
    expect(d.st.versions).toEqual({ g: 2, d: 4 });
  });

  it('three workers and three shards: each round sends the three planTasks tasks at the current versions', () => {
    const d = new Driver(config({ shards: 3 }));
    d.join('w1');
    d.join('w2');
    const opened = d.join('w3');
    expect(d.tasks(opened)).toHaveLength(1); // w1 and w2 already hold shards 0 and 1
    const round1 = d.tasks();
    expect(round1.map((t) => t.shard)).toEqual([0, 1, 2]);
    expect(round1.map(({ taskId, batch, numShards }) => ({ taskId, batch, numShards }))).toEqual(
      planTasks(run, 'D', 1, 0, 3).map((t) => ({ taskId: `1.D0.${t.shard}.0`, batch: t.batch, numShards: 3 })),
    );
    d.answer('w1');
    d.answer('w2');
    expect(only(d.log, 'ApplyUpdate')).toHaveLength(0);
    const close = d.answer('w3');
    const types = close.map((c) => c.type);
    expect(types.slice(0, 3)).toEqual(['ApplyUpdate', 'BroadcastWeights', 'UpdateMetrics']);
    expect(types.filter((t) => t === 'Ack')).toHaveLength(3);
    const next = d.tasks(close);
    expect(next.map((t) => `${t.taskId}@${t.versions.d}`)).toEqual(['1.D1.0.0@1', '1.D1.1.0@1', '1.D1.2.0@1']);
    expect(types.indexOf('SendTask')).toBeGreaterThan(types.indexOf('BroadcastWeights'));
    const apply = only(close, 'ApplyUpdate')[0];
    expect(apply.contributors).toEqual(['w1', 'w2', 'w3']);
    expect(apply.scale).toBe(1);
  });

  it('with more shards than workers, idle workers take pending shards in order', () => {
    const d = new Driver(config({ shards: 3 }));
    d.join('w1');
    expect(d.lastTask('w1').shard).toBe(0);
    d.answer('w1');
    expect(d.lastTask('w1').shard).toBe(1);
    d.answer('w1');
    d.answer('w1');
    expect(only(d.log, 'ApplyUpdate').map((a) => a.contributors)).toEqual([['w1', 'w1', 'w1']]);
  });

  it('UpdateMetrics are the batch-weighted means of the round stats', () => {
    const d = new Driver(config({ shards: 2 }));
    d.join('w1');
    d.join('w2');
    d.answer('w1', { stats: { loss: 1, dReal: 0.2, dFake: 0.4, samples: 12, computeMs: 1 } });
    const cmds = d.answer('w2', { stats: { loss: 3, dReal: 0.6, dFake: 0.8, samples: 12, computeMs: 1 } });
    expect(only(cmds, 'UpdateMetrics')[0]).toMatchObject({ phase: 'D', step: 1, loss: 2, samples: 24 });
    expect(only(cmds, 'UpdateMetrics')[0].dReal).toBeCloseTo(0.4, 12);
  });

  it("shards 'auto' uses one shard per worker, raised so each fits the smallest maxBatch", () => {
    const d = new Driver(config({ shards: 'auto', minWorkers: 2 }));
    d.join('big');
    expect(d.tasks()).toHaveLength(0);
    d.join('small', 'volunteer', 2);
    // 12 samples, maxBatch 2 → 6 shards of one pack each; each worker takes one.
    expect(d.tasks().map((t) => [t.numShards, t.batch])).toEqual([
      [6, 2],
      [6, 2],
    ]);
  });

  it('a worker never gets a shard larger than its maxBatch', () => {
    const d = new Driver(config({ shards: 2 }));
    d.join('tiny', 'volunteer', 2);
    expect(d.tasks()).toHaveLength(0);
    expect(only(d.log, 'Wait')).toEqual([{ type: 'Wait', workerId: 'tiny', reason: 'no_work', retryAfterMs: 1000 }]);
    d.join('w1');
    expect(d.lastTask('w1').batch).toBe(6);
  });
});

describe('sync rounds: faults', () => {
  it('reassigns a straggler’s shard (same TaskSpec and seed) and answers its late result as a duplicate', () => {
    const d = new Driver(config({ shards: 2 }));
    d.join('w1');
    d.join('w2');
    d.join('w3');
    d.answer('w2');
    const t1 = d.lastTask('w1');
    expect(d.tick(999).filter((c) => c.type === 'SendTask')).toHaveLength(0);
    const re = d.tasks(d.tick(1));
    expect(re).toHaveLength(1);
    const t2 = re[0];
    expect(only(d.log, 'SendTask').at(-1)!.workerId).toBe('w2'); // the first idle worker in join order
    expect({ ...t2, taskId: '' }).toEqual({ ...t1, taskId: '' });
    expect(t2.taskId).toBe('1.D0.0.1');
    const close = d.answer('w2');
    expect(only(close, 'ApplyUpdate')).toHaveLength(1);
    const late = d.send(d.resultFor('w1', t1));
    expect(only(late, 'Ack')).toEqual([{ type: 'Ack', workerId: 'w1', taskId: '1.D0.0.0', status: 'duplicate', code: ErrorCodes.DUPLICATE }]);
    expect(only(d.log, 'ApplyUpdate')).toHaveLength(1);
  });

  it('the straggler may still win its shard; the reassigned copy is then a duplicate', () => {
    const d = new Driver(config({ shards: 1 }));
    d.join('w1');
    d.join('w2');
    d.tick(1000);
    const t1 = d.lastTask('w1');
    const t2 = d.lastTask('w2');
    expect(t2.taskId).toBe('1.D0.0.1');
    const close = d.send(d.resultFor('w1', t1));
    expect(only(close, 'ApplyUpdate')[0].contributors).toEqual(['w1']);
    const dup = d.send(d.resultFor('w2', t2));
    expect(only(dup, 'Ack')[0].status).toBe('duplicate');
    expect(only(d.log, 'ApplyUpdate')).toHaveLength(1);
  });

  it('the same result sent twice is applied once', () => {
    const d = new Driver(config({ shards: 2 }));
    d.join('w1');
    d.join('w2');
    const t1 = d.lastTask('w1');
    d.send(d.resultFor('w1', t1));
    const again = d.send(d.resultFor('w1', t1));
    expect(only(again, 'Ack')[0]).toMatchObject({ status: 'duplicate' });
    d.answer('w2');
    expect(only(d.log, 'ApplyUpdate')[0].contributors).toEqual(['w1', 'w2']);
    // After the round closed, a third copy is still a duplicate.
    expect(only(d.send(d.resultFor('w1', t1)), 'Ack')[0].status).toBe('duplicate');
  });

  it('rejects stale versions, unknown tasks and another worker’s task without counting them', () => {
    const d = new Driver(config({ shards: 2 }));
    d.join('w1');
    d.join('w2');
    const t1 = d.lastTask('w1');
    const stale = d.send(d.resultFor('w1', t1, { versions: { g: 0, d: 7 } }));
    expect(only(stale, 'Ack')[0]).toMatchObject({ status: 'rejected', code: ErrorCodes.STALE_VERSION });
    const unknown = d.send(d.resultFor('w2', { ...t1, taskId: '9.D0.0.0' }));
    expect(only(unknown, 'Ack')[0]).toMatchObject({ status: 'rejected', code: ErrorCodes.UNKNOWN_TASK });
    const foreign = d.send(d.resultFor('w2', t1));
    expect(only(foreign, 'Ack')[0]).toMatchObject({ status: 'rejected', code: ErrorCodes.UNKNOWN_TASK });
    // The stale answer freed w1 and re-queued its shard, which w1 takes again.
    expect(d.lastTask('w1').taskId).toBe('1.D0.0.1');
    d.answer('w1');
    d.answer('w2');
    expect(only(d.log, 'ApplyUpdate')).toHaveLength(1);
    expect(d.st.versions).toEqual({ g: 0, d: 1 });
  });

  it('re-queues the shard of a worker that leaves mid-round', () => {
    const d = new Driver(config({ shards: 2 }));
    d.join('w1');
    d.join('w2');
    d.join('w3');
    const lost = d.lastTask('w1');
    const cmds = d.leave('w1');
    expect(d.tasks(cmds).map((t) => [t.shard, t.taskId])).toEqual([[0, '1.D0.0.1']]);
    expect(only(cmds, 'SendTask')[0].workerId).toBe('w3');
    expect(lost.shard).toBe(0);
    d.answer('w2');
    d.answer('w3');
    expect(only(d.log, 'ApplyUpdate')[0].contributors).toEqual(['w3', 'w2']);
  });

  it('a worker that reconnects may re-send the result of its lost task', () => {
    const d = new Driver(config({ shards: 2 }));
    d.join('w1');
    d.join('w2');
    const lost = d.lastTask('w1');
    d.leave('w1');
    d.join('w1'); // takes its own shard again (attempt 1)
    expect(d.lastTask('w1').taskId).toBe('1.D0.0.1');
    d.send(d.resultFor('w1', lost));
    d.answer('w2');
    expect(only(d.log, 'ApplyUpdate')[0].contributors).toEqual(['w1', 'w2']);
    expect(only(d.answer('w1'), 'Ack')[0].status).toBe('duplicate');
  });

  it('quorum < 1 closes the round at the deadline with the missing shards as failures', () => {
    const spy = new SpyStrategy();
    const d = new Driver(config({ shards: 4, quorum: 0.5, strategy: spy }));
    for (const w of ['w1', 'w2', 'w3', 'w4']) d.join(w);
    d.answer('w1');
    expect(d.tick(500)).toEqual([]);
    d.answer('w2');
    expect(only(d.log, 'ApplyUpdate')).toHaveLength(0); // quorum met, deadline not yet
    const close = d.tick(500);
    const apply = only(close, 'ApplyUpdate');
    expect(apply.map((a) => a.contributors)).toEqual([['w1', 'w2']]);
    expect(spy.calls[0].results.map((r) => r.workerId)).toEqual(['1.D0.0.0', '1.D0.1.0']);
    expect(spy.calls[0].failures.map((f) => [f.workerId, f.code])).toEqual([
      ['w3', RoundErrorCodes.TASK_TIMEOUT],
      ['w4', RoundErrorCodes.TASK_TIMEOUT],
    ]);
    const late = d.answer('w3');
    expect(only(late, 'Ack')[0]).toMatchObject({ status: 'rejected', code: ErrorCodes.STALE_VERSION });
    expect(d.lastTask('w3').taskId).toBe('1.D1.2.0');
  });

  it('quorum < 1 keeps waiting past the deadline until enough shards answered', () => {
    const d = new Driver(config({ shards: 4, quorum: 0.75 }));
    for (const w of ['w1', 'w2', 'w3', 'w4']) d.join(w);
    d.answer('w1');
    d.answer('w2');
    d.tick(2000);
    expect(only(d.log, 'ApplyUpdate')).toHaveLength(0);
    expect(only(d.answer('w3'), 'ApplyUpdate')[0].contributors).toEqual(['w1', 'w2', 'w3']);
  });

  it('acks a strategy rejection with its code and applies the rest', () => {
    const d = new Driver(config({ shards: 2 }));
    d.join('w1');
    d.join('w2');
    const t1 = d.lastTask('w1');
    const bad = d.resultFor('w1', t1);
    bad.grads[0].data[0] = Number.NaN;
    d.send(bad);
    const close = d.answer('w2');
    expect(only(close, 'ApplyUpdate')[0].contributors).toEqual(['w2']);
    expect(only(close, 'Ack')).toEqual([
      { type: 'Ack', workerId: 'w2', taskId: '1.D0.1.0', status: 'applied' },
      { type: 'Ack', workerId: 'w1', taskId: '1.D0.0.0', status: 'rejected', code: ErrorCodes.NON_FINITE },
    ]);
  });

  it('a worker the strategy quarantines is benched: no more tasks, and the other workers take its shards', () => {
    const d = new Driver(config({ shards: 4, strategy: createStrategyFromSpec('mean:screen=10:strikes=1') }));
    for (const w of ['w1', 'w2', 'w3', 'evil']) d.join(w);
    // Round 1: evil is loud (norm 1e6 × honest): OUTLIER, its first strike, quarantine at strikes=1.
    const loud = d.resultFor('evil', d.lastTask('evil'));
    for (const t of loud.grads) t.data.forEach((v, i) => (t.data[i] = v * 1e6));
    d.send(loud);
    for (const w of ['w1', 'w2']) d.answer(w);
    const r1 = d.answer('w3');
    expect(only(r1, 'Ack').find((a) => a.workerId === 'evil')).toMatchObject({ status: 'rejected', code: ErrorCodes.OUTLIER });
    // Round 2: evil sends an honest-looking result: refused as QUARANTINED, and it is benched.
    for (const w of ['w1', 'w2', 'w3']) d.answer(w);
    const r2 = d.answer('evil');
    expect(only(r2, 'Ack').find((a) => a.workerId === 'evil')).toMatchObject({ status: 'rejected', code: ErrorCodes.QUARANTINED });
    expect(d.st.workers.get('evil')!.benched).toBe(true);
    // From round 3 on, evil gets nothing; w1..w3 compute all 4 shards, and every update uses 4 results.
    drain(d, ['w1', 'w2', 'w3', 'evil']);
    expect(d.st.complete).toBe(true);
    const applies = only(d.log, 'ApplyUpdate');
    expect(applies).toHaveLength(6);
    expect(applies.slice(2).every((a) => a.contributors.length === 4 && !a.contributors.includes('evil'))).toBe(true);
    expect(only(d.log, 'SendTask').filter((c) => c.workerId === 'evil')).toHaveLength(2);
  });

  it('a round the strategy skips changes no version but moves the schedule on', () => {
    const d = new Driver(config({ shards: 1 }));
    d.join('w1');
    const bad = d.resultFor('w1', d.lastTask('w1'));
    bad.grads[1].data[2] = Number.POSITIVE_INFINITY;
    const cmds = d.send(bad);
    expect(only(cmds, 'ApplyUpdate')).toHaveLength(0);
    expect(only(cmds, 'BroadcastWeights')).toHaveLength(0);
    expect(only(cmds, 'Ack')[0]).toMatchObject({ status: 'rejected', code: ErrorCodes.NON_FINITE });
    expect(d.st.versions).toEqual({ g: 0, d: 0 });
    expect(d.lastTask('w1').taskId).toBe('1.D1.0.0');
  });

  it('with a strategy per worker kind, each kind goes to its own strategy', () => {
    const node = new SpyStrategy();
    const volunteer = new SpyStrategy();
    const d = new Driver(config({ shards: 3, strategy: { node, volunteer } }));
    d.join('n1');
    d.join('v1', 'volunteer');
    d.join('n2');
    d.answer('n1');
    d.answer('v1');
    const close = d.answer('n2');
    expect(node.calls[0].results.map((r) => r.workerId)).toEqual(['1.D0.0.0', '1.D0.2.0']);
    expect(volunteer.calls[0].results.map((r) => r.workerId)).toEqual(['1.D0.1.0']);
    expect(only(close, 'ApplyUpdate')[0].contributors).toEqual(['n1', 'v1', 'n2']);
  });
});

describe('rounds: top-k share on G tasks', () => {
  it('G tasks of a top-k run carry topKShare for their step; D tasks and plain runs carry none', () => {
    const d = new Driver(config({ shards: 1, run: { ...RUN, k: 1, steps: 4, topK: 0.5 } }));
    d.join('w1');
    const seen: RoundTask[] = [];
    for (let i = 0; i < 8; i++) {
      seen.push(d.lastTask('w1'));
      d.answer('w1');
    }
    expect(seen.map((t) => [t.phase, t.step, t.topK])).toEqual([
      ['D', 1, undefined], ['G', 1, undefined], ['D', 2, undefined], ['G', 2, 0.75],
      ['D', 3, undefined], ['G', 3, 0.5], ['D', 4, undefined], ['G', 4, 0.5],
    ]);
    const plain = new Driver(config({ shards: 1, run: { ...RUN, k: 1, steps: 1 } }));
    plain.join('w1');
    plain.answer('w1');
    expect(plain.lastTask('w1')).toMatchObject({ phase: 'G' });
    expect('topK' in plain.lastTask('w1')).toBe(false);
  });

  it('async tasks carry it too', () => {
    const d = new Driver(config({ mode: 'async', run: { ...RUN, k: 1, steps: 2, topK: 0.25 } }));
    d.join('w1');
    const seen: RoundTask[] = [];
    for (let i = 0; i < 4; i++) {
      seen.push(d.lastTask('w1'));
      d.answer('w1');
    }
    expect(seen.map((t) => [t.phase, t.step, t.topK])).toEqual([['D', 1, undefined], ['G', 1, undefined], ['D', 2, undefined], ['G', 2, 0.25]]);
  });
});

describe('sync rounds: start and checkpoints', () => {
  it('a resumed run continues at its start position and versions', () => {
    const d = new Driver(config({ shards: 1, start: { phase: 'G', step: 2, sub: 0, versions: { g: 1, d: 4 } } }));
    d.join('w1');
    expect(d.lastTask('w1')).toMatchObject({ taskId: '2.G0.0.0', versions: { g: 1, d: 4 } });
    const cmds = d.answer('w1');
    expect(only(cmds, 'ApplyUpdate')[0]).toMatchObject({ net: 'G', step: 2, version: 2 });
    expect(only(cmds, 'RunComplete')).toEqual([{ type: 'RunComplete', step: 2 }]);
  });

  it('checkpoints every checkpointEvery steps with the next position, and at the end', () => {
    const d = new Driver(config({ shards: 1, checkpointEvery: 1, run: { ...RUN, steps: 3 } }));
    d.join('w1');
    drain(d, ['w1']);
    expect(only(d.log, 'Checkpoint')).toEqual([
      { type: 'Checkpoint', step: 1, next: { phase: 'D', step: 2, sub: 0, versions: { g: 1, d: 2 } }, resolved: expect.any(Array) },
      { type: 'Checkpoint', step: 2, next: { phase: 'D', step: 3, sub: 0, versions: { g: 2, d: 4 } }, resolved: expect.any(Array) },
      { type: 'Checkpoint', step: 3, next: { phase: 'D', step: 4, sub: 0, versions: { g: 3, d: 6 } }, resolved: expect.any(Array) },
    ]);
    const types = d.log.map((c) => c.type);
    expect(types.lastIndexOf('Checkpoint')).toBeLessThan(types.indexOf('RunComplete'));
  });

  it('minWorkers holds the first round until enough workers joined', () => {
    const d = new Driver(config({ shards: 'auto', minWorkers: 3 }));
    d.join('w1');
    d.join('w2');
    expect(d.tasks()).toHaveLength(0);
    d.join('w3');
    expect(d.tasks().map((t) => t.numShards)).toEqual([3, 3, 3]);
  });
});
