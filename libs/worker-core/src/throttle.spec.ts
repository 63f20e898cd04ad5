import { describe, expect, it } from 'vitest';
import { MAX_THROTTLE_MS, throttleDelayMs } from './throttle';

describe('throttleDelayMs (compute-share duty cycle)', () => {
  it('rests so that compute is `share` of the wall clock', () => {
    expect(throttleDelayMs(300, 1)).toBe(0);
    expect(throttleDelayMs(300, 0.5)).toBe(300);
    expect(throttleDelayMs(300, 0.25)).toBe(900);
    // compute / (compute + rest) == share
    const rest = throttleDelayMs(120, 0.3);
    expect(120 / (120 + rest)).toBeCloseTo(0.3, 2);
  });

  it('caps the rest so a throttled task still meets its deadline, and rests 0 before any compute', () => {
    expect(throttleDelayMs(5_000, 0.05)).toBe(MAX_THROTTLE_MS);
    expect(throttleDelayMs(0, 0.1)).toBe(0);
  });

  it('refuses a share outside (0, 1]', () => {
    for (const s of [0, -0.1, 1.5, Number.NaN]) expect(() => throttleDelayMs(100, s)).toThrow(RangeError);
  });
});
