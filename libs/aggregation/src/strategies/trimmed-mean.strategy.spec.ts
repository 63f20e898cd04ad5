import { describe, expect, it } from 'vitest';
import { TrimmedMeanStrategy } from './trimmed-mean.strategy';
import { byzantine, filled, honestUpdates, itMeetsTheStrategyContract, relDistance, sampleMean, update } from './strategy-fixtures';

describe('TrimmedMeanStrategy', () => {
  itMeetsTheStrategyContract(() => new TrimmedMeanStrategy());

  it('drops ⌊β·n⌋ values (at least one) from each end per coordinate', () => {
    const ups = [0, 1, 2, 3, 100].map((v, i) => update(`w${i}`, filled(v)));
    // β 0.1, n 5 → ⌊0.5⌋ = 0, raised to one from each end: mean(1, 2, 3) = 2.
    expect(new TrimmedMeanStrategy().aggregate(ups, [])!.grads[0].data[0]).toBe(2);
    // β 0 is the plain mean: 106 / 5.
    expect(new TrimmedMeanStrategy({ beta: 0 }).aggregate(ups, [])!.grads[0].data[0]).toBeCloseTo(21.2, 5);
  });

  it('resists one Byzantine update of huge norm', () => {
    const honest = honestUpdates(7, 6);
    const out = new TrimmedMeanStrategy().aggregate([...honest, byzantine()], []);
    expect(relDistance(out!.grads, sampleMean(honest))).toBeLessThan(0.1);
  });

  it('rejects beta outside [0, 0.5) at construction', () => {
    expect(() => new TrimmedMeanStrategy({ beta: 0.5 })).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => new TrimmedMeanStrategy({ beta: -0.1 })).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });
});
