import { describe, expect, it } from 'vitest';
import { globalNorm } from '@duel/util';
import { NormClippedMeanStrategy } from './norm-clipped-mean.strategy';
import { byzantine, filled, honestUpdates, itMeetsTheStrategyContract, relDistance, sampleMean, update } from './strategy-fixtures';

describe('NormClippedMeanStrategy', () => {
  itMeetsTheStrategyContract(() => new NormClippedMeanStrategy());

  it('clips each update to maxNorm before the sample-weighted mean', () => {
    // filled(3) over 28 values has norm 3·√28; clipped to √28 it becomes filled(1).
    const out = new NormClippedMeanStrategy({ maxNorm: Math.sqrt(28) }).aggregate(
      [update('small', filled(0.5), 10), update('big', filled(3), 10)],
      [],
    );
    // (0.5 + 1) / 2
    expect(out!.grads[0].data[0]).toBeCloseTo(0.75, 6);
  });

  it('bounds one Byzantine update of huge norm to the median norm', () => {
    const honest = honestUpdates(7, 6);
    const honestMean = sampleMean(honest);
    const out = new NormClippedMeanStrategy().aggregate([...honest, byzantine()], []);
    // Its pull is at most median‖g‖/7, about a seventh of the honest mean's own norm ...
    expect(relDistance(out!.grads, honestMean)).toBeLessThan(0.5);
    // ... where the unclipped mean is off by three orders of magnitude.
    expect(globalNorm(sampleMean([...honest, byzantine()])) / globalNorm(honestMean)).toBeGreaterThan(1000);
  });

  it('rejects a non-positive maxNorm at construction', () => {
    expect(() => new NormClippedMeanStrategy({ maxNorm: 0 })).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });
});
