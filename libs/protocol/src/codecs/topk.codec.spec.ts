import { Rng } from '@duel/util';
import { describe, expect, it } from 'vitest';
import { checkTopkIndices, decodeTopk, encodeTopk, topkCount } from './topk.codec';

/** Reference: indices of the k largest |x| by a full sort (ties to the lower index), ascending. */
function referenceTopk(x: Float32Array, k: number): number[] {
  const idx = [...x.keys()].sort((a, b) => Math.abs(x[b]) - Math.abs(x[a]) || a - b);
  return idx.slice(0, k).sort((a, b) => a - b);
}

describe('topk codec', () => {
  it('keeps exactly the k entries of largest magnitude, exact, in index order', () => {
    const rng = new Rng(5);
    for (const [n, k] of [[1000, 10], [1000, 1], [37, 37], [5000, 500], [64, 63]]) {
      const x = rng.fillNormal(new Float32Array(n));
      const { indices, values } = encodeTopk(x, k);
      expect([...indices]).toEqual(referenceTopk(x, k));
      indices.forEach((i, j) => expect(values[j]).toBe(x[i]));
      // The error is exactly the dropped entries.
      const y = decodeTopk(indices, values, new Float32Array(n));
      const kept = new Set(indices);
      for (let i = 0; i < n; i++) expect(y[i]).toBe(kept.has(i) ? x[i] : 0);
    }
  });

  it('breaks ties at the threshold deterministically, towards lower indices', () => {
    const x = new Float32Array([1, -2, 2, 0, 2, -2, 1]);
    expect([...encodeTopk(x, 3).indices]).toEqual([1, 2, 4]);
    expect([...encodeTopk(new Float32Array(8).fill(0.5), 2).indices]).toEqual([0, 1]);
  });

  it('counts ⌈ratio·n⌉, at least 1, at most n', () => {
    expect(topkCount(1000, 0.01)).toBe(10);
    expect(topkCount(1001, 0.01)).toBe(11);
    expect(topkCount(5, 0.01)).toBe(1);
    expect(topkCount(0, 0.1)).toBe(0);
    expect(topkCount(4, 1)).toBe(4);
  });

  it('checks indices: in range and strictly ascending (so no duplicates)', () => {
    expect(checkTopkIndices(new Uint32Array([0, 3, 9]), 10)).toBeNull();
    expect(checkTopkIndices(new Uint32Array([0, 10]), 10)).toMatch(/out of range/);
    expect(checkTopkIndices(new Uint32Array([3, 3]), 10)).toMatch(/ascending/);
    expect(checkTopkIndices(new Uint32Array([4, 2]), 10)).toMatch(/ascending/);
  });
});
