import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '@duel/util';
import { createRoundState } from './config';
import { RESOLVED_MEMORY } from './effects';
import { config, Driver, only, RUN } from './test-harness';
import type { CheckpointCommand, RoundCommand } from './types';

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
