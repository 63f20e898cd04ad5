/** Longest pause between two tasks, ms: a throttled task must still beat the coordinator's task deadline (30 s by default). */
export const MAX_THROTTLE_MS = 10_000;

/**
 * How long to rest before the next task so that compute takes `share` of the
 * wall clock (a duty cycle): after `computeMs` of work, rest
 * computeMs · (1 − share) / share. share 1 never rests; the rest is capped at
 * MAX_THROTTLE_MS so a slow device at a low share still meets task deadlines.
 * @throws RangeError when share is not in (0, 1].
 */
export function throttleDelayMs(computeMs: number, share: number): number {
  if (!(share > 0 && share <= 1)) throw new RangeError(`compute share must be in (0, 1], got ${share}`);
  if (!(computeMs > 0) || share === 1) return 0;
  return Math.min(MAX_THROTTLE_MS, Math.round((computeMs * (1 - share)) / share));
}
