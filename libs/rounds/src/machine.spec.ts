import { describe, expect, it } from 'vitest';
import { MeanStrategy, weightedMean } from '@duel/aggregation';
import { planTasks, resolveRunConfig, taskSeed } from '@duel/trainer';
import { ErrorCodes } from '@duel/util';
import { createRoundState, resolveRoundConfig } from './config';
import { ASYNC_MAX_ATTEMPTS } from './async-scheduler';
import { simulate, type ClusterOptions } from './fake-cluster';
import { step } from './machine';
import { currentPhase, summarize } from './queries';
import { config, Driver, fakeGrads, only, RUN, SpyStrategy, statSamples } from './test-harness';
import type { RoundConfig, RoundState } from './types';

/** What a rejected or duplicate result must leave alone. */
function counters(st: RoundState) {
  return JSON.stringify({
    versions: st.versions,
    position: st.position,
    cursor: st.async.cursor,
    lastGStep: st.lastGStep,
    answered: st.round?.shards.map((s) => s.result?.taskId ?? null),
    pending: st.round?.pending,
  });
}

const CLUSTER: ClusterOptions = { workers: 3, seed: 5, maxDelayMs: 300, straggle: 0.15, drop: 0.1, duplicate: 0.2, tickMs: 100 };

describe('sync equivalence with the local reference trainer', () => {
  const run = resolveRunConfig({ dataset: 'ring8', seed: 11, steps: 3, k: 2, batchSize: 64 });
  const cases: [string, RoundConfig['shards'], Partial<ClusterOptions>][] = [
    ['3 fixed shards, 2 workers, stragglers, drops, duplicates', 3, { workers: 2 }],
    ["shards 'auto', 4 workers (some volunteers), churn", 'auto', { workers: 4, volunteers: true, seed: 9 }],
  ];
  for (const [name, shards, over] of cases) {
    it(`ApplyUpdate grads are planTasks + weightedMean, bit for bit: ${name}`, () => {
      const d = simulate(config({ run, shards, taskTimeoutMs: 250 }), { ...CLUSTER, ...over });
      expect(d.st.complete).toBe(true);
      const applies = only(d.log, 'ApplyUpdate');
      const schedule = [];
      for (let s = 1; s <= run.steps; s++) schedule.push(...['D0', 'D1', 'G0'].map((p) => `${s}.${p}`));
      expect(applies.map((a) => `${a.step}.${a.net}${a.sub}`)).toEqual(schedule);
      for (const a of applies) {
        const numShards = d.tasks().find((t) => t.step === a.step && t.phase === a.net && t.sub === a.sub)!.numShards;
        const plan = planTasks(run, a.net, a.step, a.sub, numShards);
        const expected = weightedMean(plan.map(fakeGrads), plan.map(statSamples));
        expect(a.grads).toEqual(expected);
        expect(a.contributors).toHaveLength(numShards);
      }
      // The faults happened: reassigned attempts and duplicate answers.
      expect(d.tasks().some((t) => !t.taskId.endsWith('.0'))).toBe(true);
      expect(only(d.log, 'Ack').some((c) => c.status === 'duplicate')).toBe(true);
    });
  }
});

describe('async rounds', () => {
  const asyncCfg = (over: Partial<RoundConfig> = {}) => config({ mode: 'async', staleness: 1, run: { ...RUN, steps: 2, k: 2 }, ...over });

  it('issues the D×k, G schedule over issued tasks, one whole-batch task each, at the current versions', () => {
    const d = new Driver(asyncCfg());
    for (const w of ['w1', 'w2', 'w3']) d.join(w);
    const sent = d.tasks();
    expect(sent.map((t) => [t.taskId, t.numShards, t.shard, t.batch, t.versions.g, t.versions.d])).toEqual([
      ['1.D0.0.0', 1, 0, 12, 0, 0],
      ['1.D1.0.0', 1, 0, 12, 0, 0],
      ['1.G0.0.0', 1, 0, 12, 0, 0],
    ]);
    expect(sent.map((t) => t.seed)).toEqual(sent.map((t) => taskSeed(RUN.seed, t)));
    expect(currentPhase(d.st)).toBe('D');
  });

  it('applies each fresh-enough result alone, scaled by stalenessScale(τ), and rejects staler ones', () => {
    const d = new Driver(asyncCfg());
    for (const w of ['w1', 'w2', 'w3']) d.join(w);
    const first = d.answer('w2'); // D at d=0, now d=0: τ = 0
    expect(only(first, 'ApplyUpdate')[0]).toMatchObject({ net: 'D', step: 1, sub: 1, scale: 1, version: 1, contributors: ['w2'] });
    expect(d.lastTask('w2')).toMatchObject({ taskId: '2.D0.0.0', versions: { g: 0, d: 1 } });
    const second = d.answer('w1'); // τ = 1
    expect(only(second, 'ApplyUpdate')[0]).toMatchObject({ net: 'D', scale: 0.5, version: 2 });
    expect(only(second, 'Ack')[0].status).toBe('applied');
    expect(d.st.versions).toEqual({ g: 0, d: 2 });
  });

  it('rejects a result staler than s with DUEL_ERR_STALE_VERSION and changes no version', () => {
    const d = new Driver(asyncCfg({ staleness: 0, run: { ...RUN, steps: 2, k: 1 } }));
    for (const w of ['w1', 'w2', 'w3']) d.join(w); // D1, G1, D2, all at d = 0
    d.answer('w1'); // d → 1
    const versions = { ...d.st.versions };
    const stale = d.answer('w3'); // D2 computed at d = 0: τ = 1 > s = 0
    expect(only(stale, 'Ack')[0]).toMatchObject({ status: 'rejected', code: ErrorCodes.STALE_VERSION });
    expect(only(stale, 'ApplyUpdate')).toHaveLength(0);
    expect(d.st.versions).toEqual(versions);
    // The refused position is issued again, at the current versions, under the next attempt number (w3 is idle now).
    expect(d.tasks().filter((t) => t.step === 2 && t.phase === 'D').map((t) => [t.taskId, t.versions.d])).toEqual([
      ['2.D0.0.0', 0],
      ['2.D0.0.1', 1],
    ]);
    expect(d.lastTask('w3').taskId).toBe('2.D0.0.1');
  });

  it('a refused position is issued again until it is applied, so the run applies every step; at most ASYNC_MAX_ATTEMPTS attempts', () => {
    const d = new Driver(asyncCfg({ staleness: 0, run: { ...RUN, steps: 2, k: 1 } }));
    for (const w of ['w1', 'w2', 'w3']) d.join(w); // 1.D0, 1.G0, 2.D0 at d = g = 0
    // w1: 1.D0 applied, w1 gets 2.G0 (g = 0); w2: 1.G0 applied; w3: 2.D0 refused (d moved on), re-issued to idle w2;
    // w1: 2.G0 refused (g moved on), re-issued to w1; then both second attempts are applied.
    for (const w of ['w1', 'w2', 'w3', 'w1', 'w2', 'w1']) d.answer(w);
    expect(d.tasks().map((t) => t.taskId)).toEqual(['1.D0.0.0', '1.G0.0.0', '2.D0.0.0', '2.G0.0.0', '2.D0.0.1', '2.G0.0.1']);
    const applies = only(d.log, 'ApplyUpdate').map((a) => `${a.step}.${a.net}${a.sub}`);
    expect([...applies].sort()).toEqual(['1.D0', '1.G0', '2.D0', '2.G0']);
    expect(only(d.log, 'RunComplete')).toEqual([{ type: 'RunComplete', step: 2 }]);
    expect(d.st.versions).toEqual({ d: 2, g: 2 });

    // A position that every attempt gets refused is dropped after ASYNC_MAX_ATTEMPTS, and the run still ends.
    const e = new Driver(asyncCfg({ staleness: 0, run: { ...RUN, steps: 1, k: 1 } }));
    e.join('w1');
    e.join('w2'); // 1.D0 to w1, 1.G0 to w2
    for (let i = 0; i < ASYNC_MAX_ATTEMPTS; i++) {
      const task = e.lastTask('w1');
      expect(task.taskId).toBe(`1.D0.0.${i}`);
      expect(only(e.send(e.resultFor('w1', task, { versions: { g: 7, d: 7 } })), 'Ack')[0]).toMatchObject({ status: 'rejected', code: ErrorCodes.STALE_VERSION });
    }
    expect(e.lastTask('w1').taskId).toBe(`1.D0.0.${ASYNC_MAX_ATTEMPTS - 1}`); // no fourth attempt
    expect(only(e.answer('w2'), 'RunComplete')).toEqual([{ type: 'RunComplete', step: 1 }]);
    expect(e.st.versions).toEqual({ d: 0, g: 1 });
  });

  it("stalenessMode 'none' applies stale results at full scale; a re-sent result is a duplicate", () => {
    const d = new Driver(asyncCfg({ stalenessMode: 'none' }));
    d.join('w1');
    d.join('w2');
    d.answer('w2');
    const t1 = d.lastTask('w1');
    expect(only(d.send(d.resultFor('w1', t1)), 'ApplyUpdate')[0].scale).toBe(1);
    expect(only(d.send(d.resultFor('w1', t1)), 'Ack')[0].status).toBe('duplicate');
  });

  it('completes when every step is issued and answered; a straggler holds completion only until its deadline', () => {
    const d = new Driver(asyncCfg({ run: { ...RUN, steps: 1, k: 1 } }));
    d.join('w1');
    d.join('w2');
    d.answer('w1');
    expect(only(d.log, 'RunComplete')).toHaveLength(0);
    expect(only(d.tick(1000), 'RunComplete')).toEqual([{ type: 'RunComplete', step: 0 }]);
    expect(only(d.answer('w2'), 'Ack')[0]).toMatchObject({ status: 'rejected', code: ErrorCodes.SHUTTING_DOWN });
  });

  it('a worker that leaves keeps its attempt until the deadline (a re-sent result still counts); then its position is issued again', () => {
    const d = new Driver(asyncCfg({ run: { ...RUN, steps: 1, k: 1 } }));
    d.join('w1');
    d.join('w2');
    const lost = d.lastTask('w1');
    const left = d.leave('w1');
    expect(only(left, 'SendTask')).toHaveLength(0);
    expect(only(d.answer('w2'), 'RunComplete')).toHaveLength(0); // w1's attempt is still expected
    const retried = d.tick(1000);
    expect(d.tasks(retried).map((t) => [t.taskId, d.lastTask('w2').taskId])).toEqual([['1.D0.0.1', '1.D0.0.1']]);
    // w1 comes back and re-sends its old result: that attempt is closed, so it is not applied.
    d.join('w1');
    expect(only(d.send(d.resultFor('w1', lost)), 'ApplyUpdate')).toHaveLength(0);
    expect(only(d.answer('w2'), 'RunComplete')).toEqual([{ type: 'RunComplete', step: 1 }]);
    expect(d.st.versions).toEqual({ d: 1, g: 1 });
  });

  it('a worker that leaves and re-sends its result within the deadline has it applied, and nothing is issued twice', () => {
    const d = new Driver(asyncCfg({ run: { ...RUN, steps: 1, k: 1 } }));
    d.join('w1');
    d.join('w2');
    const lost = d.lastTask('w1');
    d.leave('w1');
    d.join('w1');
    expect(only(d.send(d.resultFor('w1', lost)), 'ApplyUpdate')).toHaveLength(1);
    expect(only(d.answer('w2'), 'RunComplete')).toEqual([{ type: 'RunComplete', step: 1 }]);
    expect(d.tasks().map((t) => t.taskId).sort()).toEqual(['1.D0.0.0', '1.G0.0.0']);
  });

  it('Pause stops issuing in async too; results still apply; Resume hands out the next positions', () => {
    const d = new Driver(asyncCfg());
    d.join('w1');
    d.send({ type: 'Pause' });
    const cmds = d.answer('w1');
    expect(only(cmds, 'ApplyUpdate')).toHaveLength(1);
    expect(only(cmds, 'SendTask')).toHaveLength(0);
    expect(only(cmds, 'Wait')[0].reason).toBe('paused');
    expect(d.tasks(d.send({ type: 'Resume' })).map((t) => t.taskId)).toEqual(['1.D1.0.0']);
  });

  it('a simulated async run with faults applies every result at most once and completes', () => {
    const d = simulate(asyncCfg({ run: { ...RUN, steps: 6, k: 1 }, staleness: 2, taskTimeoutMs: 250 }), CLUSTER);
    expect(d.st.complete).toBe(true);
    const applies = only(d.log, 'ApplyUpdate');
    const keys = applies.map((a) => `${a.step}.${a.net}${a.sub}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(applies.every((a) => a.scale > 0 && a.scale <= 1)).toBe(true);
    expect(d.st.versions.d + d.st.versions.g).toBe(applies.length);
  });
});

describe('invariants', () => {
  it('1 + 3: a result is applied at most once; versions rise by exactly one per ApplyUpdate', () => {
    const d = simulate(config({ taskTimeoutMs: 250 }), { ...CLUSTER, duplicate: 0.5 });
    const applied = only(d.log, 'Ack').filter((a) => a.status === 'applied');
    const shardKeys = applied.map((a) => a.taskId.split('.').slice(0, 3).join('.'));
    expect(new Set(shardKeys).size).toBe(shardKeys.length);
    for (const net of ['D', 'G'] as const) {
      const versions = only(d.log, 'ApplyUpdate').filter((a) => a.net === net).map((a) => a.version);
      expect(versions).toEqual(versions.map((_, i) => i + 1));
    }
  });

  it('2: a rejected or duplicate result changes no counter that affects weights', () => {
    const d = new Driver(config({ shards: 2 }));
    d.join('w1');
    d.join('w2');
    const t1 = d.lastTask('w1');
    d.send(d.resultFor('w1', t1));
    const before = counters(d.st);
    d.send(d.resultFor('w1', t1)); // duplicate
    d.send(d.resultFor('w2', { ...t1, taskId: 'x' })); // unknown
    d.send(d.resultFor('w2', d.lastTask('w2'), { versions: { g: 3, d: 3 } })); // stale, re-queued for w2
    expect(counters(d.st)).toBe(before);
    expect(only(d.log, 'ApplyUpdate')).toHaveLength(0);
  });

  it('4: a worker joining mid-run gets the current weights before its first task', () => {
    const d = new Driver(config({ shards: 1 }));
    d.join('w1');
    for (let i = 0; i < 3; i++) d.answer('w1'); // D, D, G of step 1
    d.join('late');
    d.leave('w1'); // its step-2 shard goes to the newcomer
    const weights = only(d.log, 'SendWeights').filter((c) => c.workerId === 'late');
    expect(weights.map((w) => `${w.net}@${w.version}`)).toEqual(['G@1', 'D@2']);
    expect(d.lastTask('late')).toMatchObject({ taskId: '2.D0.0.1', versions: { g: 1, d: 2 } });
  });

  it('5: after RunComplete no task is sent, and joins and results get no work', () => {
    const d = new Driver(config({ shards: 1, run: { ...RUN, steps: 1, k: 1 } }));
    d.join('w1');
    d.answer('w1');
    d.answer('w1');
    expect(d.st.complete).toBe(true);
    const after = [...d.join('w2'), ...d.tick(5000), ...d.send({ type: 'Resume' })];
    expect(only(after, 'SendTask')).toHaveLength(0);
    expect(only(after, 'Wait').map((w) => w.workerId)).toEqual(['w2']);
  });

  it('6: Pause stops issuing; outstanding tasks finish and close their round; Resume issues again', () => {
    const d = new Driver(config({ shards: 2 }));
    d.join('w1');
    d.join('w2');
    d.answer('w1');
    const paused = d.send({ type: 'Pause' });
    expect(only(paused, 'Wait')).toEqual([{ type: 'Wait', workerId: 'w1', reason: 'paused', retryAfterMs: 1000 }]);
    const close = d.answer('w2');
    expect(only(close, 'ApplyUpdate')).toHaveLength(1);
    expect(only(close, 'SendTask')).toHaveLength(0);
    expect(d.tick(5000).filter((c) => c.type === 'SendTask')).toHaveLength(0);
    expect(summarize(d.st).state).toBe('paused');
    const resumed = d.send({ type: 'Resume' });
    expect(d.tasks(resumed).map((t) => t.taskId)).toEqual(['1.D1.0.0', '1.D1.1.0']);
  });

  it('7: Shutdown abandons the open round, answers what it held, and checkpoints where to resume', () => {
    const d = new Driver(config({ shards: 2 }));
    d.join('w1');
    d.join('w2');
    d.answer('w1');
    d.answer('w2');
    d.answer('w1'); // D sub 1, shard 0 accepted, waits for shard 1
    const cmds = d.send({ type: 'Shutdown', now: 10 });
    expect(cmds).toEqual([
      { type: 'Ack', workerId: 'w1', taskId: '1.D1.0.0', status: 'rejected', code: ErrorCodes.SHUTTING_DOWN },
      { type: 'Wait', workerId: 'w1', reason: 'shutting_down', retryAfterMs: 1000 },
      { type: 'Wait', workerId: 'w2', reason: 'shutting_down', retryAfterMs: 1000 },
      { type: 'Checkpoint', step: 0, next: { phase: 'D', step: 1, sub: 1, versions: { g: 0, d: 1 } }, resolved: expect.any(Array) },
    ]);
    const late = d.answer('w2');
    expect(late).toEqual([{ type: 'Ack', workerId: 'w2', taskId: '1.D1.1.0', status: 'rejected', code: ErrorCodes.SHUTTING_DOWN }]);
    expect(d.join('w3').filter((c) => c.type === 'SendTask')).toHaveLength(0);
    expect(d.send({ type: 'Shutdown', now: 20 })).toEqual([]);
    // The checkpoint resumes exactly there.
    const resumed = new Driver(config({ shards: 2, start: only(cmds, 'Checkpoint')[0].next }));
    resumed.join('w1');
    expect(resumed.lastTask('w1')).toMatchObject({ taskId: '1.D1.0.0', versions: { g: 0, d: 1 } });
  });
});

describe('machine', () => {
  it('is deterministic: the same events give the same commands', () => {
    const a = simulate(config({ taskTimeoutMs: 250, strategy: new SpyStrategy() }), CLUSTER);
    const b = createRoundState(config({ taskTimeoutMs: 250, strategy: new SpyStrategy() }));
    const replayed = a.events.flatMap((ev) => step(b, ev).commands);
    expect(replayed).toEqual(a.log);
    expect(a.log.length).toBeGreaterThan(50);
  });

  it('validates its config with DUEL_ERR_BAD_ARGUMENT naming the field', () => {
    const bad = (over: Partial<RoundConfig>) => () => resolveRoundConfig(config(over));
    expect(bad({ quorum: 0 })).toThrow(/quorum/);
    expect(bad({ shards: 7 })).toThrow(/shards/);
    expect(bad({ run: { ...RUN, batchSize: 13 } })).toThrow(/run.batchSize/);
    expect(bad({ start: { phase: 'D', step: 1, sub: 2, versions: { g: 0, d: 0 } } })).toThrow(/start.sub/);
    expect(bad({ strategy: {} as never })).toThrow(/DUEL_ERR_BAD_ARGUMENT: round config strategy/);
    expect(resolveRoundConfig(config({ strategy: new MeanStrategy() })).stalenessMode).toBe('inverse');
  });

  it('summarize reports the run for the API', () => {
    const d = new Driver(config({ shards: 2 }));
    expect(summarize(d.st)).toMatchObject({ state: 'waiting', workers: 0, round: null });
    d.join('w1');
    d.answer('w1');
    expect(summarize(d.st)).toMatchObject({ state: 'training', busy: 1, round: { numShards: 2, answered: 1, pending: 0 } });
  });
});
