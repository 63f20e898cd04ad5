import { describe, expect, it } from 'vitest';
import { allFinite, allFiniteRemembered, cloneWeights, wasFoundFinite, type NamedWeights } from './named-weights';

const tensors = (...arrays: Float32Array[]): NamedWeights => arrays.map((data, i) => ({ name: `t${i}`, shape: [data.length], data }));
const FINITE_EDGES = [0, -0, 1.4e-45, -1.4e-45, 1.17549435e-38, 3.4028235e38, -3.4028235e38, 1, -1];

describe('allFinite', () => {
  it('is true for finite values of every kind, and for empty tensors', () => {
    expect(allFinite(tensors(new Float32Array(FINITE_EDGES), new Float32Array(0)))).toBe(true);
    expect(allFinite([])).toBe(true);
  });

  it('finds NaN, Infinity and -Infinity at every position of every length, tails included', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (let n = 1; n <= 11; n++) {
        for (let at = 0; at < n; at++) {
          const d = new Float32Array(n).map((_, i) => FINITE_EDGES[i % FINITE_EDGES.length]);
          d[at] = bad;
          expect(allFinite(tensors(new Float32Array([1, 2]), d)), `${bad} at ${at} of ${n}`).toBe(false);
        }
      }
    }
  });

  it('is not fooled by huge finite values whose sum would overflow', () => {
    expect(allFinite(tensors(new Float32Array(64).fill(3.4028235e38)))).toBe(true);
  });
});

describe('allFiniteRemembered / wasFoundFinite', () => {
  it('remembers a finite answer per data array, and only that', () => {
    const ok = tensors(new Float32Array([1, 2, 3]), new Float32Array([4]));
    expect(wasFoundFinite(ok)).toBe(false);
    expect(allFiniteRemembered(ok)).toBe(true);
    expect(wasFoundFinite(ok)).toBe(true);
    // A copy holds other arrays: nothing is known about them.
    expect(wasFoundFinite(cloneWeights(ok))).toBe(false);
  });

  it('never vouches for a list with a non-finite tensor', () => {
    const good = new Float32Array([1]);
    const bad = new Float32Array([1, NaN]);
    expect(allFiniteRemembered(tensors(good, bad))).toBe(false);
    expect(wasFoundFinite(tensors(good, bad))).toBe(false);
    expect(wasFoundFinite(tensors(good))).toBe(true); // the part that was checked
  });
});
