import { describe, expect, it } from 'vitest';
import { HEAP_GROWING_PERCENT, tuneHeapForCoordinator } from './gc-tuning';

describe('tuneHeapForCoordinator', () => {
  it('uses the default, or DUEL_HEAP_GROWING_PERCENT, and refuses a bad value with a code', () => {
    expect(tuneHeapForCoordinator({})).toBe(HEAP_GROWING_PERCENT);
    expect(tuneHeapForCoordinator({ DUEL_HEAP_GROWING_PERCENT: '0' })).toBe(0);
    expect(tuneHeapForCoordinator({ DUEL_HEAP_GROWING_PERCENT: '50' })).toBe(50);
    for (const bad of ['x', '-1', '2.5', '5000']) {
      expect(() => tuneHeapForCoordinator({ DUEL_HEAP_GROWING_PERCENT: bad })).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    }
  });
});
