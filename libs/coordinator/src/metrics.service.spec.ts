import { describe, expect, it } from 'vitest';
import type { RoundCommand, RoundEvent, RoundState } from '@duel/rounds';
import { MetricsService } from './metrics.service';

const asyncState = { config: { mode: 'async' }, round: null } as unknown as RoundState;
const syncState = (openedAt: number) => ({ config: { mode: 'sync' }, round: { openedAt } }) as unknown as RoundState;
const result = (taskId: string, versions: { g: number; d: number }, phase: 'D' | 'G' = 'D') =>
  ({ type: 'ResultReceived', workerId: 'w-1', taskId, phase, versions, grads: [], stats: {}, now: 0 }) as unknown as RoundEvent;
const apply = (net: 'D' | 'G') => ({ type: 'ApplyUpdate', net }) as unknown as RoundCommand;

async function sample(m: MetricsService, line: string): Promise<number | undefined> {
  const text = await m.text();
  const hit = text.split('\n').find((l) => l.startsWith(`${line} `));
  return hit === undefined ? undefined : Number(hit.slice(line.length + 1));
}

describe('RoundObserver: latency and staleness from the round machine traffic', () => {
  it('async: staleness is the versions a result is behind; latency runs from its task being sent to its update', async () => {
    const m = new MetricsService();
    const o = m.observer;
    o.before(asyncState, { type: 'Tick', now: 0 } as RoundEvent, { G: 5, D: 9 });
    o.command({ type: 'SendTask', workerId: 'w-1', task: { taskId: 't1' } } as unknown as RoundCommand, 1_000);
    o.before(asyncState, result('t1', { g: 5, d: 7 }), { G: 5, D: 9 });
    o.command(apply('D'), 1_250);
    o.command({ type: 'Ack', workerId: 'w-1', taskId: 't1', status: 'applied' } as RoundCommand, 1_250);
    // A rejected result is not counted.
    o.before(asyncState, result('t2', { g: 5, d: 1 }), { G: 5, D: 9 });
    o.command({ type: 'Ack', workerId: 'w-1', taskId: 't2', status: 'rejected' } as RoundCommand, 1_300);

    expect(await sample(m, 'duel_staleness_count')).toBe(1);
    expect(await sample(m, 'duel_staleness_sum')).toBe(2);
    expect(await sample(m, 'duel_staleness_bucket{le="1"}')).toBe(0);
    expect(await sample(m, 'duel_staleness_bucket{le="2"}')).toBe(1);
    expect(await sample(m, 'duel_round_seconds_count{phase="D"}')).toBe(1);
    expect(await sample(m, 'duel_round_seconds_sum{phase="D"}')).toBeCloseTo(0.25, 6);
  });

  it('sync: latency runs from the round opening to its update', async () => {
    const m = new MetricsService();
    m.observer.before(syncState(10_000), result('t1', { g: 3, d: 3 }, 'G'), { G: 3, D: 3 });
    m.observer.command(apply('G'), 10_400);
    expect(await sample(m, 'duel_round_seconds_sum{phase="G"}')).toBeCloseTo(0.4, 6);
  });

  it('scrape-time gauges read the bound sources: quality, busy/idle workers, pending shards', async () => {
    const m = new MetricsService();
    const workers = new Map([
      ['a', { task: 't' }],
      ['b', { task: null }],
      ['c', { task: null }],
    ]);
    const rounds = {
      config: { mode: 'sync', shards: 4 },
      position: { phase: 'D', step: 1, sub: 0 },
      async: { cursor: { phase: 'D', step: 1, sub: 0 } },
      versions: { G: 0, D: 0 },
      workers,
      round: { numShards: 4, pending: [2, 3], shards: [], attempts: new Map() },
      complete: false,
      shutdown: false,
      paused: false,
      started: true,
      lastGStep: 0,
    } as unknown as RoundState;
    m.bind({ rounds: () => rounds, quality: () => ({ kind: '2d', modes: 7, hq: 0.9 }) as never });
    expect(await sample(m, 'duel_workers_busy')).toBe(1);
    expect(await sample(m, 'duel_workers_idle')).toBe(2);
    expect(await sample(m, 'duel_shards_pending')).toBe(2);
    expect(await sample(m, 'duel_round_shards')).toBe(4);
    (rounds as unknown as { round: null }).round = null;
    expect(await sample(m, 'duel_round_shards')).toBe(4); // between rounds: the configured count
    (rounds.config as { shards: number | 'auto' }).shards = 'auto';
    expect(await sample(m, 'duel_round_shards')).toBe(3); // auto: one shard per worker
    expect(await sample(m, 'duel_quality{metric="modes"}')).toBe(7);
    expect(await sample(m, 'duel_quality{metric="hq"}')).toBe(0.9);
  });
});
