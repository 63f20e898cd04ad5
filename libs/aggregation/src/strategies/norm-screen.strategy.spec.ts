import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '@duel/util';
import { createStrategy } from '../create-strategy';
import { normOutliers, NormScreenStrategy, StrikeLedger } from './norm-screen.strategy';
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

describe('quarantine (strikes=S)', () => {
  it('StrikeLedger quarantines at the S-th strike, and stays so', () => {
    const l = new StrikeLedger(2);
    expect(l.strike('a')).toBe(false);
    expect(l.quarantined('a')).toBe(false);
    expect(l.strike('a')).toBe(true);
    expect(l.strike('a')).toBe(false); // already in
    expect([l.quarantined('a'), l.quarantined('b'), l.count('a')]).toEqual([true, false, 3]);
    expect(l.list()).toEqual(['a']);
    for (const bad of [0, 1.5, Number.NaN]) expect(() => new StrikeLedger(bad)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });

  it('after S outliers every update of the worker is refused as QUARANTINED, even an honest-looking one; others are untouched', () => {
    const s = new NormScreenStrategy(createStrategy('mean'), 10, 2);
    for (let round = 0; round < 2; round++) {
      const out = s.aggregate([...honestUpdates(10 + round, 4), { ...byzantine(), workerId: 'evil' }], [])!;
      expect(out.rejected).toEqual([expect.objectContaining({ workerId: 'evil', code: ErrorCodes.OUTLIER })]);
    }
    expect(s.ledger!.list()).toEqual(['evil']);
    // Now it sends what an honest worker sends (a sign flip would look the same to the norm): refused all the same.
    const honest = honestUpdates(20, 4);
    const out = s.aggregate([...honest, { ...honest[0], workerId: 'evil' }], [])!;
    expect(out.rejected).toEqual([expect.objectContaining({ workerId: 'evil', code: ErrorCodes.QUARANTINED })]);
    expect(out.used).toEqual(honest.map((u) => u.workerId));
    expect(relDistance(out.grads, sampleMean(honest))).toBeLessThan(1e-6);
    expect(s.counts().rejectedByCode).toEqual({ [ErrorCodes.OUTLIER]: 2, [ErrorCodes.QUARANTINED]: 1 });
  });

  it('without strikes nobody is quarantined (the screen judges each round alone)', () => {
    const s = new NormScreenStrategy(createStrategy('mean'), 10);
    for (let round = 0; round < 3; round++) s.aggregate([...honestUpdates(30 + round, 4), { ...byzantine(), workerId: 'evil' }], []);
    const honest = honestUpdates(40, 4);
    expect(s.aggregate([...honest, { ...honest[0], workerId: 'evil' }], [])!.used).toContain('evil');
    expect(s.ledger).toBeNull();
  });

  it('is built from a spec (strikes only with screen)', () => {
    expect(createStrategyFromSpec('trimmed-mean:beta=0.3:screen=10:strikes=3').name).toBe('trimmed-mean+screen+quarantine');
    expect(parseStrategySpec('median:screen=10:strikes=3')).toEqual({ name: 'median', options: {}, screen: 10, strikes: 3 });
    expect(() => createStrategyFromSpec('median:strikes=3')).toThrow(/strikes only goes with screen/);
    expect(() => createStrategyFromSpec('median:screen=10:strikes=0')).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
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
