import { Rng } from '@duel/util';
import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff';

describe('Backoff (full jitter)', () => {
  it('doubles the ceiling from 250 ms up to the 10 s cap and draws below it', () => {
    const b = new Backoff(new Rng(1));
    const ceilings: number[] = [];
    for (let i = 0; i < 9; i++) {
      const c = b.ceiling();
      ceilings.push(c);
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(c);
    }
    expect(ceilings).toEqual([250, 500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  });

  it('is reproducible for a seed, spreads across seeds, and resets to the base', () => {
    const draw = (seed: number) => {
      const b = new Backoff(new Rng(seed));
      return Array.from({ length: 6 }, () => b.next());
    };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
    const b = new Backoff(new Rng(2));
    b.next();
    b.next();
    b.reset();
    expect(b.ceiling()).toBe(250);
    expect(b.attempts).toBe(0);
  });

  it('never waits less than the server asked for', () => {
    const b = new Backoff(new Rng(3));
    expect(b.next(5_000)).toBeGreaterThanOrEqual(5_000);
  });
});
