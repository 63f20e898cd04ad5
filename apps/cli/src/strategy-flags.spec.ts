import { describe, expect, it } from 'vitest';
import { strategiesFrom } from './coordinator.flags';

describe('--strategy flags', () => {
  it('takes one spec for every kind, or one per kind', () => {
    expect(strategiesFrom('median', undefined)).toEqual({ strategy: 'median', strategyVolunteer: undefined });
    expect(strategiesFrom('node=mean,volunteer=trimmed-mean:beta=0.3:screen=10', undefined)).toEqual({ strategy: 'mean', strategyVolunteer: 'trimmed-mean:beta=0.3:screen=10' });
    expect(strategiesFrom(undefined, 'krum:byzantine=2')).toEqual({ strategy: undefined, strategyVolunteer: 'krum:byzantine=2' });
  });

  it('refuses malformed specs at start-up with BAD_ARGUMENT', () => {
    for (const [a, b] of [['node=mean,robot=median', undefined], ['nope', undefined], ['mean', 'trimmed-mean:beta=0.9'], ['node=', undefined]] as const) {
      expect(() => strategiesFrom(a, b), `${a} ${b}`).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    }
  });
});
