import { describe, expect, it } from 'vitest';
import { KrumStrategy } from './krum.strategy';
import { byzantine, honestUpdates, itMeetsTheStrategyContract, relDistance, sampleMean } from './strategy-fixtures';

describe('KrumStrategy (multi-Krum)', () => {
  itMeetsTheStrategyContract(() => new KrumStrategy());

  it('rejects one Byzantine update of huge norm as an outlier and averages the honest ones', () => {
    const honest = honestUpdates(7, 6);
    const out = new KrumStrategy().aggregate([...honest.slice(0, 3), byzantine(), ...honest.slice(3)], []);
    expect(out!.rejected).toHaveLength(1);
    expect(out!.rejected[0]).toMatchObject({ workerId: 'evil', code: 'DUEL_ERR_OUTLIER' });
    expect(out!.used).toEqual(honest.map((u) => u.workerId));
    expect(relDistance(out!.grads, sampleMean(honest))).toBeLessThan(1e-6);
  });

  it('also catches a subtle attacker that sits just outside the honest cluster', () => {
    const honest = honestUpdates(8, 6);
    const shifted = { ...honest[0], workerId: 'subtle', grads: honest[0].grads.map((w) => ({ ...w, data: w.data.map((x) => x + 1) })) };
    const out = new KrumStrategy().aggregate([shifted, ...honest], []);
    expect(out!.rejected.map((r) => r.workerId)).toEqual(['subtle']);
  });

  it('keep 1 is plain Krum: the single most central update', () => {
    const honest = honestUpdates(9, 5);
    const out = new KrumStrategy({ keep: 1 }).aggregate([...honest, byzantine()], []);
    expect(out!.used).toHaveLength(1);
    expect(out!.rejected).toHaveLength(5);
    expect(out!.rejected.map((r) => r.workerId)).toContain('evil');
  });

  it('with two updates it cannot tell who is lying, so it keeps both', () => {
    const out = new KrumStrategy({ byzantine: 3 }).aggregate(honestUpdates(10, 2), []);
    expect(out!.used).toHaveLength(2);
  });

  it('validates its options', () => {
    expect(() => new KrumStrategy({ byzantine: -1 })).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => new KrumStrategy({ keep: 0 })).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });
});
