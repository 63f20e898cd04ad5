import { describe, expect, it } from 'vitest';
import { MedianStrategy } from './median.strategy';
import { byzantine, filled, honestUpdates, itMeetsTheStrategyContract, relDistance, sampleMean, update } from './strategy-fixtures';

describe('MedianStrategy', () => {
  itMeetsTheStrategyContract(() => new MedianStrategy());

  it('takes the coordinate-wise median', () => {
    const out = new MedianStrategy().aggregate([update('a', filled(1)), update('b', filled(7)), update('c', filled(2))], []);
    expect(out!.grads[1].data[0]).toBe(2);
  });

  it('resists one Byzantine update of huge norm', () => {
    const honest = honestUpdates(7, 6);
    const out = new MedianStrategy().aggregate([...honest, byzantine()], []);
    expect(relDistance(out!.grads, sampleMean(honest))).toBeLessThan(0.1);
    expect(out!.used).toContain('evil'); // a median uses everyone; it just cannot be dragged
  });

  it('resists a minority of Byzantine updates of either sign', () => {
    const honest = honestUpdates(11, 5);
    const out = new MedianStrategy().aggregate([...honest, byzantine(1e6, 'e1'), byzantine(-1e6, 'e2')], []);
    expect(relDistance(out!.grads, sampleMean(honest))).toBeLessThan(0.1);
  });
});
