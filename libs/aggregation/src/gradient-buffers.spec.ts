import { describe, expect, it } from 'vitest';
import { cloneWeights, type NamedWeights } from '@duel/util';
import { gradientBuffer, releaseGradients } from './gradient-buffers';
import { weightedMean } from './kernels';
import { SPECS, honestUpdates } from './strategies/strategy-fixtures';

const bits = (ws: NamedWeights) => ws.map((t) => Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length)));

describe('gradient buffers', () => {
  it('hands a released buffer out again, and never one still in use', () => {
    const a = gradientBuffer(SPECS);
    const b = gradientBuffer(SPECS);
    expect(b).not.toBe(a);
    releaseGradients(a);
    const c = gradientBuffer(SPECS);
    expect(c).toBe(a);
    expect(gradientBuffer(SPECS)).not.toBe(b);
  });

  it('ignores buffers it did not hand out, and a second release of one it did', () => {
    const foreign = cloneWeights(gradientBuffer(SPECS));
    releaseGradients(foreign);
    expect(gradientBuffer(SPECS)).not.toBe(foreign);
    const a = gradientBuffer(SPECS);
    releaseGradients(a);
    releaseGradients(a);
    const x = gradientBuffer(SPECS);
    const y = gradientBuffer(SPECS);
    expect(x === a && y === a).toBe(false);
  });

  it('gives another layout its own buffers', () => {
    const a = gradientBuffer(SPECS);
    releaseGradients(a);
    const other = [{ name: 'other', shape: [3] }];
    const b = gradientBuffer(other);
    expect(b).not.toBe(a);
    expect(b[0].data.length).toBe(3);
  });

  it('a mean into a recycled buffer (stale values in it) is bit for bit a fresh one', () => {
    const ups = honestUpdates(3, 3).map((u) => u.grads);
    const fresh = weightedMean(ups, [16, 17, 18]);
    const expected = bits(fresh);
    releaseGradients(fresh);
    const stale = gradientBuffer(SPECS);
    for (const t of stale) t.data.fill(Number.NaN);
    releaseGradients(stale);
    const again = weightedMean(ups, [16, 17, 18]);
    expect(again).toBe(stale);
    expect(bits(again)).toEqual(expected);
    // One update: the path without the float64 accumulator.
    releaseGradients(again);
    expect(bits(weightedMean([ups[0]], [16]))).toEqual(bits(weightedMean([ups[0]], [16], cloneWeights(ups[0]))));
  });
});
