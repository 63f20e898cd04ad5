import { expect } from 'vitest';

/**
 * Shared by the wasm kernel specs (imported by *.spec.ts only): how far a
 * kernel's output is from the cpu backend's reference.
 */

/** max |a − ref| relative to the reference's magnitude (at least 1). */
export function relErr(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(a.length).toBe(ref.length);
  let err = 0;
  let mag = 1;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(a[i] - ref[i]));
    mag = Math.max(mag, Math.abs(ref[i]));
  }
  return err / mag;
}
