import { describe, expect, it } from 'vitest';
import { MeanStrategy } from './mean.strategy';
import { byzantine, filled, honestUpdates, itMeetsTheStrategyContract, relDistance, sampleMean, update } from './strategy-fixtures';

describe('MeanStrategy (FedAvg)', () => {
  itMeetsTheStrategyContract(() => new MeanStrategy());

  it('weights updates by their sample counts', () => {
    const out = new MeanStrategy().aggregate([update('a', filled(1), 10), update('b', filled(4), 30)], []);
    // (10·1 + 30·4) / 40 = 3.25
    expect(out!.grads.every((w) => w.data.every((x) => x === 3.25))).toBe(true);
  });

  it('damps stale updates by 1/(1+τ) against the plain sample total', () => {
    const out = new MeanStrategy().aggregate([update('fresh', filled(2), 10, 0), update('stale', filled(2), 10, 1)], []);
    // (10·2·1 + 10·2·½) / 20 = 1.5
    expect(out!.grads[0].data[0]).toBe(1.5);
    const none = new MeanStrategy({ staleness: 'none' }).aggregate([update('fresh', filled(2), 10, 0), update('stale', filled(2), 10, 1)], []);
    expect(none!.grads[0].data[0]).toBe(2);
  });

  it('is not robust: one huge update drags the mean far from the honest mean (why the robust strategies exist)', () => {
    const honest = honestUpdates(7, 6);
    const out = new MeanStrategy().aggregate([...honest, byzantine()], []);
    expect(relDistance(out!.grads, sampleMean(honest))).toBeGreaterThan(100);
  });

  it('skips the round on any failure when acceptFailures is false', () => {
    const s = new MeanStrategy({ acceptFailures: false });
    expect(s.aggregate(honestUpdates(8, 2), [{ workerId: 'x', code: 'DUEL_ERR_TIMEOUT' }])).toBeNull();
    expect(s.aggregate(honestUpdates(8, 2), [])).not.toBeNull();
  });

  it('needs minUpdates usable updates', () => {
    const s = new MeanStrategy({ minUpdates: 3 });
    expect(s.aggregate(honestUpdates(9, 2), [])).toBeNull();
    expect(s.aggregate(honestUpdates(9, 3), [])).not.toBeNull();
  });

  it('rejects a bad staleness mode at construction', () => {
    expect(() => new MeanStrategy({ staleness: 'linear' as 'none' })).toThrow(/DUEL_ERR_BAD_ARGUMENT.*inverse, none/);
  });
});
