import { describe, expect, it } from 'vitest';
import { isDuelError } from '@duel/util';
import { DEFAULT_STRATEGY, STRATEGY_NAMES, createStrategy } from './create-strategy';
import { TrimmedMeanStrategy } from './strategies/trimmed-mean.strategy';

describe('createStrategy', () => {
  it('builds every registered strategy under its own name', () => {
    expect(STRATEGY_NAMES).toEqual(['mean', 'median', 'trimmed-mean', 'norm-clipped-mean', 'krum']);
    expect(DEFAULT_STRATEGY).toBe('mean');
    for (const name of STRATEGY_NAMES) {
      const s = createStrategy(name);
      expect(s.name).toBe(name);
      expect(s.paper).toMatch(/20\d\d/);
    }
  });

  it('passes options through', () => {
    const s = createStrategy('trimmed-mean', { beta: 0.3, minUpdates: 2 });
    expect(s).toBeInstanceOf(TrimmedMeanStrategy);
    expect((s as TrimmedMeanStrategy).beta).toBe(0.3);
  });

  it('names the known strategies when the name is unknown', () => {
    try {
      createStrategy('fedprox');
      expect.unreachable();
    } catch (e) {
      expect(isDuelError(e) && e.code).toBe('DUEL_ERR_BAD_ARGUMENT');
      expect((e as Error).message).toContain('known: mean, median, trimmed-mean, norm-clipped-mean, krum');
    }
  });

  it('rejects options the strategy does not take', () => {
    expect(() => createStrategy('median', { beta: 0.2 })).toThrow(/DUEL_ERR_BAD_ARGUMENT.*beta/);
    expect(() => createStrategy('krum', { byzantine: 1, keep: 3, staleness: 'none', specs: [] })).not.toThrow();
    expect(() => createStrategy('__proto__')).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });
});
