import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '@duel/util';
import { createStrategy } from '../create-strategy';
import { normOutliers, NormScreenStrategy } from './norm-screen.strategy';
import { createStrategyFromSpec, parseStrategySpec } from './strategy-spec';
import { byzantine, honestUpdates, relDistance, sampleMean, update, filled } from './strategy-fixtures';

describe('normOutliers', () => {
  it('flags norms above ratio × median, only with 3 or more finite norms', () => {
    expect(normOutliers([1, 1.2, 0.9, 50], 10)).toEqual([false, false, false, true]);
    expect(normOutliers([1, 50], 10)).toEqual([false, false]);
    expect(normOutliers([1, 1, Number.NaN, 1, 11], 10)).toEqual([false, false, false, false, true]);
  });
});

describe('NormScreenStrategy', () => {
  it('drops an update of outlier norm as OUTLIER before the mean sees it, and counts it', () => {
    const honest = honestUpdates(3, 5);
    const s = new NormScreenStrategy(createStrategy('mean'), 10);
    const out = s.aggregate([...honest, byzantine()], [])!;
    expect(relDistance(out.grads, sampleMean(honest))).toBeLessThan(1e-6);
    expect(out.rejected.map((r) => r.code)).toEqual([ErrorCodes.OUTLIER]);
    expect(out.used).toHaveLength(5);
    expect(s.counts()).toMatchObject({ received: 6, used: 5, rejected: 1, rejectedByCode: { [ErrorCodes.OUTLIER]: 1 } });
  });

  it('still rejects non-finite updates through the inner strategy', () => {
    const bad = filled(Number.NaN);
    const s = new NormScreenStrategy(createStrategy('mean'), 10);
    const out = s.aggregate([...honestUpdates(4, 3), update('nan', bad)], [])!;
    expect(out.rejected).toEqual([expect.objectContaining({ workerId: 'nan', code: ErrorCodes.NON_FINITE })]);
  });
});

describe('strategy specs', () => {
  it('parse names and numeric options', () => {
    expect(parseStrategySpec('trimmed-mean:beta=0.3:screen=10')).toEqual({ name: 'trimmed-mean', options: { beta: 0.3 }, screen: 10 });
    expect(createStrategyFromSpec('krum:byzantine=2').name).toBe('krum');
    expect(createStrategyFromSpec('median:screen=5').name).toBe('median+screen');
  });

  it('refuse unknown names, unknown options and malformed pairs with BAD_ARGUMENT', () => {
    for (const bad of ['nope', 'mean:beta=0.3', 'trimmed-mean:beta', 'trimmed-mean:beta=0.6', 'mean:screen=x', 'Mean', 'mean:__proto__=1']) {
      expect(() => createStrategyFromSpec(bad), bad).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    }
  });
});
