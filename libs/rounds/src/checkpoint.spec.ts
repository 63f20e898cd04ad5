import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '@duel/util';
import { ASYNC_MAX_ATTEMPTS } from './async-scheduler';
import { createRoundState } from './config';
import { RESOLVED_MEMORY } from './effects';
import { currentPending } from './queries';
import { config, Driver, only, RUN } from './test-harness';
import type { AsyncRetry, CheckpointCommand, RoundCommand, RoundConfig, RoundPosition } from './types';

/** Runs every round to completion with the given workers answering in turn, until nothing more is sent. */
function drain(d: Driver, workers: string[], maxRounds = 100): void {
  for (let i = 0; i < maxRounds; i++) {
    const busy = workers.filter((w) => d.st.workers.get(w)?.task);
    if (busy.length === 0) return;
    for (const w of busy) d.answer(w);
  }
}

const lastCheckpoint = (log: readonly RoundCommand[]): CheckpointCommand => only(log, 'Checkpoint').at(-1)!;

describe('checkpoints by time (checkpointEveryMs)', () => {
  it('a Tick checkpoints once the interval has passed and a G update was applied since', () => {
    const d = new Driver(config({ shards: 1, checkpointEveryMs: 1000, run: { ...RUN, steps: 10 } }));
    d.join('w1');
    expect(only(d.tick(5000), 'Checkpoint')).toHaveLength(0); // no G update yet
    d.answer('w1'); // D sub 0
    d.answer('w1'); // D sub 1
    d.answer('w1'); // G: step 1 done
    expect(only(d.tick(999), 'Checkpoint')).toHaveLength(1); // 5999 ms since the first event
    expect(only(d.tick(5000), 'Checkpoint')).toHaveLength(0); // nothing new applied
    d.answer('w1');
    d.answer('w1');
    d.answer('w1'); // step 2
    expect(only(d.tick(10), 'Checkpoint')).toHaveLength(1);
    expect(lastCheckpoint(d.log)).toMatchObject({ step: 2, next: { phase: 'D', step: 3, sub: 0, versions: { g: 2, d: 4 } } });
  });

  it('a time checkpoint mid-round resumes at the open round (its partial results are dropped)', () => {
    const d = new Driver(config({ shards: 2, checkpointEveryMs: 100, run: { ...RUN, steps: 10 } }));
    d.join('w1');
    d.join('w2');
    drain(d, ['w1', 'w2'], 3); // step 1: D0, D1, G
    d.answer('w1'); // step 2 D0: shard 0 in, shard 1 open
    const cp = only(d.tick(1000), 'Checkpoint')[0];
    expect(cp.next).toEqual({ phase: 'D', step: 2, sub: 0, versions: { g: 1, d: 2 } });
  });

  it('rejects a negative interval', () => {
    expect(() => createRoundState(config({ checkpointEveryMs: -1 }))).toThrow(/checkpointEveryMs/);
  });
});

describe('exactly once across a restart', () => {
  it('a resumed machine answers a copy of a result applied before the checkpoint "duplicate", and applies nothing', () => {
    const d = new Driver(config({ shards: 2, checkpointEvery: 1, run: { ...RUN, steps: 3 } }));
    d.join('w1');
    d.join('w2');
    const firstD = d.lastTask('w1');
    const resultCopy = d.resultFor('w1', firstD);
    drain(d, ['w1', 'w2'], 3); // step 1
    const cp = lastCheckpoint(d.log);
    expect(cp.step).toBe(1);
    expect(cp.resolved).toContainEqual([firstD.taskId, 'consumed']);

    // The coordinator restarts from the checkpoint (its JSON round trip included).
    const saved = JSON.parse(JSON.stringify(cp)) as CheckpointCommand;
    const r = new Driver(config({ shards: 2, checkpointEvery: 1, run: { ...RUN, steps: 3 }, start: saved.next }), { resolved: saved.resolved });
    r.join('w1');
    r.join('w2');
    const cmds = r.send({ ...resultCopy, now: 0 });
    expect(cmds).toContainEqual({ type: 'Ack', workerId: 'w1', taskId: firstD.taskId, status: 'duplicate', code: ErrorCodes.DUPLICATE });
    expect(only(cmds, 'ApplyUpdate')).toHaveLength(0);
    expect(r.st.versions).toEqual({ g: 1, d: 2 });
    // Training goes on from step 2 with the same task ids as an uninterrupted run.
    expect(r.lastTask('w1').taskId).toBe('2.D0.0.0');
    drain(r, ['w1', 'w2']);
    expect(r.st.versions).toEqual({ g: 3, d: 6 });
    expect(r.st.complete).toBe(true);
  });

  it('without the restored outcomes the same copy is only rejected as stale: the checkpoint is what makes it a duplicate', () => {
    const d = new Driver(config({ shards: 1, checkpointEvery: 1, run: { ...RUN, steps: 2 } }));
    d.join('w1');
    const copy = d.resultFor('w1', d.lastTask('w1'));
    drain(d, ['w1'], 3);
    const r = new Driver(config({ shards: 1, run: { ...RUN, steps: 2 }, start: lastCheckpoint(d.log).next }));
    r.join('w1');
    expect(only(r.send({ ...copy, now: 0 }), 'Ack')[0]).toMatchObject({ status: 'rejected', code: ErrorCodes.STALE_VERSION });
  });

  it('restored outcomes are validated and bounded to RESOLVED_MEMORY', () => {
    expect(() => createRoundState(config(), { resolved: [['x', 'maybe' as never]] })).toThrow(/restored.resolved/);
    const many = Array.from({ length: RESOLVED_MEMORY + 10 }, (_, i) => [`t${i}`, 'consumed'] as const);
    const st = createRoundState(config(), { resolved: many });
    expect(st.resolved.size).toBe(RESOLVED_MEMORY);
    expect(st.resolved.has('t0')).toBe(false);
    expect(st.resolved.has(`t${RESOLVED_MEMORY + 9}`)).toBe(true);
  });
});

describe('async checkpoints keep the positions issued but not applied (pending)', () => {
  // k = 2, 3 steps: 1.D0 1.D1 1.G0 2.D0 2.D1 2.G0 3.D0 3.D1 3.G0; staleness 0, so a D result computed before another D update is refused.
  const RUN3 = { ...RUN, steps: 3, k: 2 };
  const asyncCfg = (over: Partial<RoundConfig> = {}) => config({ mode: 'async', staleness: 0, checkpointEveryMs: 100, run: RUN3, ...over });
  const key = (a: { step: number; net: string; sub: number }) => `${a.step}.${a.net}${a.sub}`;
  const SCHEDULE = ['1.D0', '1.D1', '1.G0', '2.D0', '2.D1', '2.G0', '3.D0', '3.D1', '3.G0'];

  /** A machine with 2.D0 in flight (w4) and 1.D1 refused and waiting to be issued again (paused), checkpointed by a Tick. */
  function interrupted() {
    const d = new Driver(asyncCfg());
    for (const w of ['w1', 'w2', 'w3', 'w4']) d.join(w); // 1.D0, 1.D1, 1.G0, 2.D0, all at g = d = 0
    const inFlight = d.lastTask('w4');
    d.send({ type: 'Pause' }); // so the refused position stays queued
    d.answer('w1'); // 1.D0 applied: d = 1
    const refused = d.answer('w2'); // 1.D1 computed at d = 0: τ = 1 > 0
    expect(only(refused, 'Ack')[0]).toMatchObject({ status: 'rejected', code: ErrorCodes.STALE_VERSION });
    d.answer('w3'); // 1.G0 applied: g = 1
    const pendingNow = currentPending(d.st);
    const cp = only(d.tick(100), 'Checkpoint')[0];
    return { d, cp, inFlight, pendingNow };
  }

  it('a checkpoint with one attempt in flight and one refused position waiting records both, in schedule order, under their next attempt numbers', () => {
    const { d, cp, pendingNow } = interrupted();
    expect(cp.next).toEqual({ phase: 'D', step: 2, sub: 1, versions: { g: 1, d: 1 } });
    expect(cp.pending).toEqual([
      { pos: { phase: 'D', step: 1, sub: 1 }, attempt: 1 }, // refused, waiting
      { pos: { phase: 'D', step: 2, sub: 0 }, attempt: 1 }, // 2.D0.0.0 in flight
    ]);
    // The query the coordinator's snapshotNow uses records the same.
    expect(pendingNow).toEqual(cp.pending);
    expect(currentPending(d.st)).toEqual(cp.pending);
  });

  it('Shutdown checkpoints the attempts in flight and the waiting positions before closing them', () => {
    const { d } = interrupted();
    const cp = only(d.send({ type: 'Shutdown', now: d.now }), 'Checkpoint')[0];
    expect(cp.pending?.map((p) => [key({ ...p.pos, net: p.pos.phase }), p.attempt])).toEqual([
      ['1.D1', 1],
      ['2.D0', 1],
    ]);
    expect(d.st.async.outstanding.size + d.st.async.retry.length).toBe(0);
  });

  it('a machine resumed from it issues the pending positions first; across the restart every schedule position is applied exactly once', () => {
    const { d, cp } = interrupted();
    const saved = JSON.parse(JSON.stringify(cp)) as CheckpointCommand;
    const r = new Driver(asyncCfg({ start: saved.next }), { resolved: saved.resolved, pending: saved.pending });
    r.join('w1');
    for (let i = 0; i < 20 && !r.st.complete; i++) r.answer('w1'); // one worker, one task at a time: nothing is stale
    expect(r.st.complete).toBe(true);
    expect(r.tasks().map((t) => t.taskId)).toEqual(['1.D1.0.1', '2.D0.0.1', '2.D1.0.0', '2.G0.0.0', '3.D0.0.0', '3.D1.0.0', '3.G0.0.0']);
    const applied = [...only(d.log, 'ApplyUpdate'), ...only(r.log, 'ApplyUpdate')];
    expect(applied.map(key).sort()).toEqual([...SCHEDULE].sort());
    expect(applied.filter((a) => a.net === 'G')).toHaveLength(RUN3.steps);
    expect(applied.filter((a) => a.net === 'D')).toHaveLength(RUN3.steps * RUN3.k);
    expect(r.st.versions).toEqual({ g: RUN3.steps, d: RUN3.steps * RUN3.k });
  });

  it('a copy of the old attempt’s result sent to the resumed machine is refused and applies nothing', () => {
    const { d, cp, inFlight } = interrupted();
    const oldResult = d.resultFor('w4', inFlight); // 2.D0.0.0, computed at g = d = 0
    const r = new Driver(asyncCfg({ start: cp.next }), { resolved: cp.resolved, pending: cp.pending });
    r.join('w4'); // the same worker comes back and gets the position again, under attempt 1
    expect(r.lastTask('w4').taskId).toBe('1.D1.0.1');
    r.join('w5');
    expect(r.lastTask('w5').taskId).toBe('2.D0.0.1');
    for (const copy of [oldResult, { ...oldResult, versions: { ...r.st.versions } }]) {
      const cmds = r.send({ ...copy, now: r.now });
      // Unknown to the resumed machine (answerUnknown): stale at other versions, unknown at the current ones.
      expect(only(cmds, 'Ack')).toEqual([
        { type: 'Ack', workerId: 'w4', taskId: '2.D0.0.0', status: 'rejected', code: copy === oldResult ? ErrorCodes.STALE_VERSION : ErrorCodes.UNKNOWN_TASK },
      ]);
      expect(only(cmds, 'ApplyUpdate')).toHaveLength(0);
    }
    expect(r.st.versions).toEqual({ g: 1, d: 1 });
    // The re-issued attempt is untouched, and its own result is applied once.
    expect(only(r.answer('w5'), 'ApplyUpdate').map(key)).toEqual(['2.D0']);
    expect(only(r.send({ ...oldResult, now: r.now }), 'ApplyUpdate')).toHaveLength(0);
    expect(only(r.log, 'ApplyUpdate').filter((a) => key(a) === '2.D0')).toHaveLength(1);
  });

  it('a restored position at ASYNC_MAX_ATTEMPTS is issued once more (a restart is not a failure), and not again if refused', () => {
    const start = { phase: 'D' as const, step: 2, sub: 0, versions: { g: 1, d: 2 } };
    const r = new Driver(asyncCfg({ start }), { pending: [{ pos: { phase: 'G', step: 1, sub: 0 }, attempt: ASYNC_MAX_ATTEMPTS }] });
    r.join('w1');
    expect(r.lastTask('w1').taskId).toBe(`1.G0.0.${ASYNC_MAX_ATTEMPTS}`);
    r.answer('w1', { versions: { g: 9, d: 9 } }); // refused: computed at other versions
    expect(r.tasks().map((t) => t.taskId)).toEqual([`1.G0.0.${ASYNC_MAX_ATTEMPTS}`, '2.D0.0.0']);
    expect(r.st.async.retry).toEqual([]);
  });

  it('bad pending entries are rejected with DUEL_ERR_BAD_ARGUMENT naming restored.pending; an old checkpoint without the field loads', () => {
    const start = { phase: 'D' as const, step: 2, sub: 1, versions: { g: 1, d: 3 } };
    const cfg = asyncCfg({ start });
    const pos = (phase: string, step: number, sub: number) => ({ phase, step, sub }) as RoundPosition;
    const bads: unknown[] = [
      null,
      { pos: pos('D', 1, 0), attempt: 0 }, // attempt 0 is the first issue: it was issued already
      { pos: pos('D', 1, 0), attempt: 1.5 },
      { pos: pos('D', 1, 0) },
      { attempt: 1 },
      { pos: pos('X', 1, 0), attempt: 1 },
      { pos: pos('D', 1, 2), attempt: 1 }, // sub past k − 1
      { pos: pos('G', 1, 1), attempt: 1 },
      { pos: pos('D', 0, 0), attempt: 1 },
      { pos: pos('D', 2, 1), attempt: 1 }, // the start itself
      { pos: pos('G', 2, 0), attempt: 1 }, // after the start
    ];
    for (const entry of bads) {
      expect(() => createRoundState(cfg, { pending: [entry as AsyncRetry] }), JSON.stringify(entry)).toThrow(/restored.pending/);
    }
    const twice = [{ pos: pos('D', 1, 0), attempt: 1 }, { pos: pos('D', 1, 0), attempt: 2 }];
    expect(() => createRoundState(cfg, { pending: twice })).toThrow(/given twice/);
    expect(() => createRoundState(config({ start }), { pending: [{ pos: pos('D', 1, 0), attempt: 1 }] })).toThrow(/only an async run/);
    const thrown = (() => {
      try {
        createRoundState(cfg, { pending: [{ pos: pos('D', 1, 0), attempt: 0 }] });
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(thrown).toMatchObject({ code: ErrorCodes.BAD_ARGUMENT, details: { field: 'restored.pending' } });
    // Good entries are queued in schedule order; an old checkpoint (no field) queues nothing.
    const ok = createRoundState(cfg, { pending: [{ pos: pos('G', 1, 0), attempt: 1 }, { pos: pos('D', 2, 0), attempt: 2 }, { pos: pos('D', 1, 1), attempt: 1 }] });
    expect(ok.async.retry.map((r) => `${r.pos.step}.${r.pos.phase}${r.pos.sub}.${r.attempt}`)).toEqual(['1.D1.1', '1.G0.1', '2.D0.2']);
    expect(createRoundState(cfg, { resolved: [] }).async.retry).toEqual([]);
    expect(createRoundState(config({ start }), { pending: [] }).async.retry).toEqual([]);
  });

  it('sync checkpoints have no pending field; async ones with nothing pending have an empty list', () => {
    const s = new Driver(config({ shards: 1, checkpointEvery: 1, run: { ...RUN, steps: 1 } }));
    s.join('w1');
    drain(s, ['w1']);
    const syncCp = lastCheckpoint(s.log);
    expect(syncCp.step).toBe(1);
    expect('pending' in syncCp).toBe(false);
    expect(currentPending(s.st)).toBeUndefined();
    const mid = new Driver(config({ shards: 1, run: { ...RUN, steps: 1 } }));
    mid.join('w1'); // 1.D0 in flight
    const shutdownCp = only(mid.send({ type: 'Shutdown', now: 0 }), 'Checkpoint')[0];
    expect(shutdownCp.next).toMatchObject({ phase: 'D', step: 1, sub: 0 });
    expect('pending' in shutdownCp).toBe(false);

    const a = new Driver(asyncCfg({ checkpointEvery: 1, run: { ...RUN, steps: 1, k: 1 } }));
    a.join('w1');
    a.answer('w1'); // 1.D0
    a.answer('w1'); // 1.G0: step 1, checkpoint
    expect(lastCheckpoint(a.log)).toMatchObject({ step: 1, pending: [] });
  });
});
