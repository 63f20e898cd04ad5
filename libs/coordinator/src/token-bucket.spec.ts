import { describe, expect, it } from 'vitest';
import { KeyedBuckets, TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('allows a burst, then refuses with the wait until a token is back', () => {
    const b = new TokenBucket({ burst: 3, perSecond: 2 }, 0);
    expect([b.take(0), b.take(0), b.take(0)]).toEqual([0, 0, 0]);
    expect(b.take(0)).toBe(500);
    expect(b.take(499)).toBe(2);
    expect(b.take(500)).toBe(0);
  });

  it('never holds more than the burst, and refuses a cost above it forever', () => {
    const b = new TokenBucket({ burst: 2, perSecond: 1 }, 0);
    expect(b.take(1_000_000, 2)).toBe(0);
    expect(b.take(1_000_000)).toBeGreaterThan(0);
    expect(b.take(2_000_000, 3)).toBe(Number.POSITIVE_INFINITY);
  });

  it('ignores a clock that goes backwards', () => {
    const b = new TokenBucket({ burst: 1, perSecond: 1 }, 1000);
    expect(b.take(1000)).toBe(0);
    expect(b.take(0)).toBeGreaterThan(0);
  });
});

describe('KeyedBuckets', () => {
  it('limits each key apart', () => {
    const k = new KeyedBuckets({ burst: 1, perSecond: 1 });
    expect(k.take('a', 0)).toBe(0);
    expect(k.take('a', 0)).toBeGreaterThan(0);
    expect(k.take('b', 0)).toBe(0);
  });

  it('stays bounded under a flood of distinct keys', () => {
    const k = new KeyedBuckets({ burst: 1, perSecond: 0.001 }, 100);
    for (let i = 0; i < 10_000; i++) k.take(`ip${i}`, 0);
    expect(k.size).toBeLessThanOrEqual(100);
  });
});
