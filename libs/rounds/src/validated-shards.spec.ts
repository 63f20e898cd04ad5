import { describe, expect, it } from 'vitest';
import { weightedMean } from '@duel/aggregation';
import { planTasks, resolveRunConfig } from '@duel/trainer';
import { ErrorCodes, type NamedWeights } from '@duel/util';
import { createRoundState } from './config';
import { simulate, type ClusterOptions } from './fake-cluster';
import { config, Driver, fakeGrads, only, statSamples } from './test-harness';
import type { RoundConfig, RoundTask } from './types';

const MISMATCH = ErrorCodes.VALIDATION_MISMATCH;

/** One shard per update unless said otherwise, volunteers validated in pairs. */
const vcfg = (over: Partial<RoundConfig> = {}) => config({ shards: 1, validation: { tolerance: 1e-3 }, ...over });

const scaled = (g: NamedWeights, s: number): NamedWeights => g.map((t) => ({ ...t, data: t.data.map((v) => v * s) }));

/** Answers w's latest task with its gradient times `s` (−1: sign flip, 100: loud). */
function tamper(d: Driver, w: string, s = -1) {
  return d.answer(w, { grads: scaled(fakeGrads(d.lastTask(w)), s) });
}

const acks = (cmds: ReturnType<Driver['send']>) => only(cmds, 'Ack').map((a) => [a.workerId, a.taskId, a.status, a.code]);
/** A replica is the same task but for its attempt suffix: spec, seed, versions, batch. */
const sameTask = (a: RoundTask, b: RoundTask) => expect({ ...b, taskId: '' }).toEqual({ ...a, taskId: '' });

describe('validation by redundancy: volunteers', () => {
  it('sends a volunteer shard to two volunteers (same spec, seed, versions) and applies it once both agree, crediting both', () => {
    const d = new Driver(vcfg());
    d.join('v1', 'volunteer');
    expect(d.tasks()).toEqual([]); // one volunteer cannot be validated
    d.join('v2', 'volunteer');
    const [t1, t2] = d.tasks();
    expect([t1.taskId, t2.taskId]).toEqual(['1.D0.0.0', '1.D0.0.1']);
    sameTask(t1, t2);
    expect(only(d.answer('v1'), 'ApplyUpdate')).toEqual([]);
    const close = d.answer('v2');
    const [apply] = only(close, 'ApplyUpdate');
    expect(apply.grads).toEqual(fakeGrads(t1));
    expect(apply.contributors).toEqual(['v1', 'v2']);
    expect(acks(close)).toEqual([
      ['v1', '1.D0.0.0', 'applied', undefined],
      ['v2', '1.D0.0.1', 'applied', undefined],
    ]);
    expect(only(close, 'Validated')).toEqual([{ type: 'Validated', outcome: 'agreed', phase: 'D', step: 1, sub: 0, shard: 0, accepted: ['v1', 'v2'], rejected: [], arbitrated: false }]);
    // Samples count once per shard, not per replica.
    expect(only(close, 'UpdateMetrics')[0].samples).toBe(statSamples(t1));
    expect(only(d.log, 'ApplyUpdate')).toHaveLength(1);
  });

  it('a tampered replica: a third volunteer decides, the tamperer is rejected and the update uses only honest gradients', () => {
    const d = new Driver(vcfg());
    for (const w of ['bad', 'v2', 'v3']) d.join(w, 'volunteer');
    expect(d.tasks().map((t) => t.taskId)).toEqual(['1.D0.0.0', '1.D0.0.1']);
    const honest = fakeGrads(d.lastTask('v2'));
    tamper(d, 'bad');
    const mismatch = d.answer('v2');
    expect(only(mismatch, 'Validated').map((v) => v.outcome)).toEqual(['mismatch']);
    expect(only(mismatch, 'Ack')).toEqual([]); // neither is used, nor answered, yet
    const [arb] = only(mismatch, 'SendTask');
    expect(arb).toMatchObject({ workerId: 'v3', task: { taskId: '1.D0.0.2' } });
    sameTask(d.lastTask('v2'), arb.task);
    const close = d.answer('v3');
    expect(acks(close)).toEqual([
      ['bad', '1.D0.0.0', 'rejected', MISMATCH],
      ['v2', '1.D0.0.1', 'applied', undefined],
      ['v3', '1.D0.0.2', 'applied', undefined],
    ]);
    const [apply] = only(close, 'ApplyUpdate');
    expect(apply.grads).toEqual(honest);
    expect(apply.contributors).toEqual(['v2', 'v3']);
    expect(only(close, 'Validated')[0]).toMatchObject({ outcome: 'agreed', accepted: ['v2', 'v3'], rejected: ['bad'], arbitrated: false });
  });

  it('a disagreement goes to a node worker when one is present; its result decides and agreeing volunteers count', () => {
    const d = new Driver(vcfg());
    for (const w of ['bad', 'v2', 'v3']) d.join(w, 'volunteer');
    d.join('n1', 'node');
    tamper(d, 'bad', 100);
    const mismatch = d.answer('v2');
    // v3 is idle but the trusted arbiter is preferred.
    expect(only(mismatch, 'SendTask').map((c) => [c.workerId, c.task.taskId])).toEqual([['n1', '1.D0.0.2']]);
    const close = d.answer('n1');
    expect(only(close, 'ApplyUpdate')[0].contributors).toEqual(['n1', 'v2']);
    expect(acks(close)).toEqual([
      ['bad', '1.D0.0.0', 'rejected', MISMATCH],
      ['n1', '1.D0.0.2', 'applied', undefined],
      ['v2', '1.D0.0.1', 'applied', undefined],
    ]);
    expect(only(close, 'Validated')[0]).toMatchObject({ outcome: 'agreed', accepted: ['n1', 'v2'], rejected: ['bad'], arbitrated: true });
  });

  it('node workers are trusted: their shards go out once, never replicated', () => {
    const d = new Driver(vcfg({ shards: 3 }));
    d.join('n1', 'node');
    d.join('v1', 'volunteer');
    d.join('v2', 'volunteer');
    expect(only(d.log, 'SendTask').map((c) => [c.workerId, c.task.taskId])).toEqual([
      ['n1', '1.D0.0.0'],
      ['v1', '1.D0.1.0'],
      ['v2', '1.D0.1.1'],
    ]);
    d.answer('n1');
    expect(d.lastTask('n1').taskId).toBe('1.D0.2.0'); // the next fresh shard, not a replica
    d.answer('v1');
    d.answer('v2');
    const close = d.answer('n1');
    expect(only(close, 'ApplyUpdate')[0].contributors).toEqual(['n1', 'v1', 'v2', 'n1']);
    expect(d.tasks().filter((t) => t.step === 1 && t.phase === 'D' && t.sub === 0 && t.shard !== 1).map((t) => t.taskId)).toEqual(['1.D0.0.0', '1.D0.2.0']);
  });

  it('with fewer than two volunteers, volunteers wait and node workers compute every shard', () => {
    const d = new Driver(vcfg({ shards: 2 }));
    d.join('n1', 'node');
    d.join('v1', 'volunteer');
    for (let i = 0; i < 20 && !d.st.complete; i++) d.answer('n1');
    expect(d.st.complete).toBe(true);
    expect(only(d.log, 'SendTask').every((c) => c.workerId === 'n1')).toBe(true);
    expect(only(d.log, 'Wait').filter((w) => w.workerId === 'v1').map((w) => w.reason)).toEqual(['no_work']);
    expect(only(d.log, 'Validated')).toEqual([]);
  });

  it('a replica whose volunteer leaves goes to another volunteer', () => {
    const d = new Driver(vcfg());
    for (const w of ['v1', 'v2', 'v3']) d.join(w, 'volunteer');
    const again = d.leave('v2');
    expect(only(again, 'SendTask').map((c) => [c.workerId, c.task.taskId])).toEqual([['v3', '1.D0.0.2']]);
    d.answer('v1');
    expect(only(d.answer('v3'), 'ApplyUpdate')[0].contributors).toEqual(['v1', 'v3']);
  });

  it('a replica past its deadline is sent again; whichever two answer first decide, the third copy is a duplicate', () => {
    const d = new Driver(vcfg());
    for (const w of ['v1', 'v2', 'v3']) d.join(w, 'volunteer');
    d.answer('v1');
    const re = d.tick(1000);
    expect(only(re, 'SendTask').map((c) => [c.workerId, c.task.taskId])).toEqual([['v3', '1.D0.0.2']]);
    expect(only(d.answer('v3'), 'ApplyUpdate')[0].contributors).toEqual(['v1', 'v3']);
    expect(acks(d.send(d.resultFor('v2', d.tasks().find((t) => t.taskId === '1.D0.0.1')!)))).toEqual([['v2', '1.D0.0.1', 'duplicate', ErrorCodes.DUPLICATE]]);
  });

  it('a volunteer votes once per shard, even with two attempts of it', () => {
    const d = new Driver(vcfg());
    d.join('v1', 'volunteer');
    d.join('v2', 'volunteer');
    const lost = d.lastTask('v1');
    d.leave('v1');
    d.join('v1', 'volunteer'); // takes the shard again: its first attempt is lost
    expect(d.lastTask('v1').taskId).toBe('1.D0.0.2');
    d.send(d.resultFor('v1', lost)); // re-sent after the reconnect: a vote
    expect(acks(d.answer('v1'))).toEqual([['v1', '1.D0.0.2', 'duplicate', ErrorCodes.DUPLICATE]]);
    expect(only(d.log, 'ApplyUpdate')).toEqual([]);
    expect(only(d.answer('v2'), 'ApplyUpdate')[0].contributors).toEqual(['v1', 'v2']);
  });

  it('after maxReplicas disagreeing volunteers all are rejected and only a node worker may compute the shard', () => {
    const d = new Driver(vcfg({ validation: { tolerance: 1e-3, maxReplicas: 3 } }));
    for (const w of ['a', 'b', 'c', 'd']) d.join(w, 'volunteer');
    tamper(d, 'a', -1);
    tamper(d, 'b', 100);
    const failed = tamper(d, 'c', 3);
    expect(only(d.log, 'Validated').map((v) => v.outcome)).toEqual(['mismatch', 'failed']);
    expect(acks(failed)).toEqual([
      ['a', '1.D0.0.0', 'rejected', MISMATCH],
      ['b', '1.D0.0.1', 'rejected', MISMATCH],
      ['c', '1.D0.0.2', 'rejected', MISMATCH],
    ]);
    expect(only(failed, 'SendTask')).toEqual([]); // 'd' is a volunteer: it may not take the shard now
    const n = d.join('n1', 'node');
    expect(only(n, 'SendTask').map((c) => c.task.taskId)).toEqual(['1.D0.0.3']);
    const close = d.answer('n1');
    expect(only(close, 'ApplyUpdate')[0].contributors).toEqual(['n1']);
    expect(only(close, 'ApplyUpdate')[0].grads).toEqual(fakeGrads(d.lastTask('n1')));
  });

  it('a replica still waiting for its partner when a quorum closes the round is rejected ROUND_SKIPPED', () => {
    const d = new Driver(vcfg({ shards: 2, quorum: 0.5 }));
    d.join('v1', 'volunteer');
    d.join('v2', 'volunteer');
    d.join('n1', 'node');
    d.answer('n1');
    d.answer('v1');
    const close = d.tick(1000);
    expect(only(close, 'ApplyUpdate')[0].contributors).toEqual(['n1']);
    expect(acks(close)).toEqual([
      ['n1', '1.D0.1.0', 'applied', undefined],
      ['v1', '1.D0.0.0', 'rejected', ErrorCodes.ROUND_SKIPPED],
    ]);
  });

  it('Shutdown answers replicas awaiting validation', () => {
    const d = new Driver(vcfg());
    d.join('v1', 'volunteer');
    d.join('v2', 'volunteer');
    d.answer('v1');
    expect(acks(d.send({ type: 'Shutdown', now: 0 }))).toEqual([['v1', '1.D0.0.0', 'rejected', ErrorCodes.SHUTTING_DOWN]]);
  });

  it('off (the default): each volunteer gets its own shard, sent once, applied without a verdict', () => {
    const d = new Driver(config({ shards: 2 }));
    d.join('v1', 'volunteer');
    d.join('v2', 'volunteer');
    expect(d.tasks().map((t) => t.taskId)).toEqual(['1.D0.0.0', '1.D0.1.0']);
    d.answer('v1');
    const close = tamper(d, 'v2');
    expect(only(close, 'ApplyUpdate')[0].contributors).toEqual(['v1', 'v2']);
    expect(only(d.log, 'Validated')).toEqual([]);
  });

  it('refuses a bad validation config, and validation in async mode', () => {
    const bad = (validation: RoundConfig['validation'], over: Partial<RoundConfig> = {}) => () => createRoundState(vcfg({ validation, ...over }));
    expect(bad({ tolerance: 1e-3 }, { mode: 'async' })).toThrow(/validation: needs mode sync/);
    expect(bad({ tolerance: -1 })).toThrow(ErrorCodes.BAD_ARGUMENT);
    expect(bad({ tolerance: Number.NaN })).toThrow(/validation.tolerance/);
    expect(bad({ tolerance: 1e-3, replicas: 1 })).toThrow(/validation.replicas/);
    expect(bad({ tolerance: 1e-3, maxReplicas: 1 })).toThrow(/validation.maxReplicas/);
    expect(createRoundState(vcfg()).config.validation).toEqual({ replicas: 2, tolerance: 1e-3, maxReplicas: 4 });
    expect(createRoundState(config()).config.validation).toBeUndefined();
  });
});

describe('validation by redundancy under faults (fake cluster)', () => {
  const run = resolveRunConfig({ dataset: 'ring8', seed: 11, steps: 3, k: 2, batchSize: 64 });
  const CLUSTER: ClusterOptions = { workers: 6, volunteers: true, seed: 3, maxDelayMs: 300, straggle: 0.15, drop: 0.1, duplicate: 0.2, tickMs: 100 };
  for (const shards of [3, 'auto'] as const) {
    it(`honest replicas keep the update bit for bit planTasks + weightedMean (shards ${shards}, stragglers, drops, duplicates)`, () => {
      const d = simulate(vcfg({ run, shards, taskTimeoutMs: 250 }), CLUSTER);
      expect(d.st.complete).toBe(true);
      const applies = only(d.log, 'ApplyUpdate');
      expect(applies).toHaveLength(run.steps * 3);
      for (const a of applies) {
        const numShards = d.tasks().find((t) => t.step === a.step && t.phase === a.net && t.sub === a.sub)!.numShards;
        const plan = planTasks(run, a.net, a.step, a.sub, numShards);
        expect(a.grads).toEqual(weightedMean(plan.map(fakeGrads), plan.map(statSamples)));
        expect(a.contributors.length).toBeGreaterThanOrEqual(numShards);
      }
      // Volunteers' shards were validated in pairs, and nobody was rejected for a mismatch.
      expect(only(d.log, 'Validated').filter((v) => v.outcome === 'agreed').length).toBeGreaterThan(0);
      expect(only(d.log, 'Ack').filter((c) => c.code === MISMATCH)).toEqual([]);
    });
  }
});
