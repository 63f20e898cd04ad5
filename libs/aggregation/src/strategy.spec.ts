import { describe, expect, it } from 'vitest';
import { allFiniteRemembered, wasFoundFinite } from '@duel/util';
import { memoryKeys, screenUpdates, senderOf } from './strategy';
import { MeanStrategy } from './strategies/mean.strategy';
import { SPECS, filled, honestUpdates, poisoned, update } from './strategies/strategy-fixtures';

const codes = (r: { rejected: { workerId: string; code: string }[] }) => r.rejected.map((x) => `${x.workerId}:${x.code}`);

describe('screenUpdates', () => {
  it('rejects duplicates, bad sample counts, bad staleness, wrong layouts and non-finite values', () => {
    const [a, b] = honestUpdates(1, 2);
    const r = screenUpdates(
      [
        a,
        { ...b, workerId: a.workerId }, // a second result from the same worker
        { ...b, workerId: 'zero', samples: 0 },
        { ...b, workerId: 'old', staleness: -1 },
        update('short', filled(1).slice(1)),
        poisoned(b, 'nan'),
        b,
      ],
      SPECS,
    );
    expect(r.accepted.map((u) => u.workerId)).toEqual([a.workerId, b.workerId]);
    expect(codes(r)).toEqual([
      `${a.workerId}:DUEL_ERR_BAD_ARGUMENT`,
      'zero:DUEL_ERR_BAD_ARGUMENT',
      'old:DUEL_ERR_BAD_ARGUMENT',
      'short:DUEL_ERR_SHAPE_MISMATCH',
      'nan:DUEL_ERR_NON_FINITE',
    ]);
  });

  it('reads the values of any update the protocol validator did not check', () => {
    const [a] = honestUpdates(1, 1);
    expect(allFiniteRemembered(a.grads)).toBe(true); // as the decoder does for a received result
    expect(screenUpdates([a]).accepted).toHaveLength(1);
    // The same layout in other arrays (a copy, a local trainer's gradients): checked here, NaN rejected.
    const copy = poisoned(a, 'nan');
    expect(wasFoundFinite(copy.grads)).toBe(false);
    expect(codes(screenUpdates([copy]))).toEqual([`${copy.workerId}:DUEL_ERR_NON_FINITE`]);
  });

  it('without specs, takes the first well-formed update as the layout reference', () => {
    const [a] = honestUpdates(2, 1);
    const r = screenUpdates([poisoned(a, 'nan'), a, update('short', filled(1).slice(1))]);
    expect(r.accepted.map((u) => u.workerId)).toEqual([a.workerId]);
    expect(codes(r)).toEqual(['nan:DUEL_ERR_NON_FINITE', 'short:DUEL_ERR_SHAPE_MISMATCH']);
  });
});

describe('BaseStrategy bookkeeping', () => {
  it('keeps running counts across rounds and reports the latest rejections', () => {
    const s = new MeanStrategy({ specs: SPECS });
    const ups = honestUpdates(3, 3);
    s.aggregate(ups, [{ workerId: 'late', code: 'DUEL_ERR_TIMEOUT' }]);
    expect(s.lastRejected).toEqual([]);
    s.aggregate([ups[0], update('short', filled(1).slice(1))], []);
    expect(s.lastRejected.map((r) => r.workerId)).toEqual(['short']);
    expect(s.counts()).toEqual({
      rounds: 2,
      skipped: 0,
      received: 5,
      used: 4,
      rejected: 1,
      failures: 1,
      rejectedByCode: { DUEL_ERR_SHAPE_MISMATCH: 1 },
    });
    // counts() is a copy.
    s.counts().rejectedByCode['x'] = 1;
    expect(s.counts().rejectedByCode).toEqual({ DUEL_ERR_SHAPE_MISMATCH: 1 });
  });

  it('rejects a bad minUpdates at construction', () => {
    expect(() => new MeanStrategy({ minUpdates: 0 })).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });
});

describe('senderOf and memoryKeys', () => {
  const u = (workerId: string, sender?: string) => ({ workerId, sender, grads: [], samples: 1 });
  it('key per-worker memory by sender, falling back to workerId; a second update of a sender in one round gets its own key', () => {
    expect(senderOf(u('t1', 'w1'))).toBe('w1');
    expect(senderOf(u('w2'))).toBe('w2');
    expect(memoryKeys([u('t1', 'w1'), u('t2', 'w2'), u('t3', 'w1'), u('w3')])).toEqual(['w1', 'w2', 'update:t3', 'w3']);
  });
});
