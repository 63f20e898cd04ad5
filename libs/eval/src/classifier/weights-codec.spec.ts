import { describe, expect, it } from 'vitest';
import { decodeWeights, encodeWeights } from './weights-codec';

const specs = [
  { name: 'a', shape: [2, 3] },
  { name: 'b', shape: [1] },
];
const ws = [
  { name: 'a', shape: [2, 3], data: Float32Array.of(1, -2, 3.5, 1e-30, -0, Math.PI) },
  { name: 'b', shape: [1], data: Float32Array.of(-1e30) },
];

describe('weights codec', () => {
  it('round-trips float32 values bit-exactly through JSON', () => {
    const file = JSON.parse(JSON.stringify(encodeWeights('m', ws, { testAccuracy: 0.99 })));
    expect(file).toMatchObject({ format: 'duel-weights/1', model: 'm', specs, meta: { testAccuracy: 0.99 } });
    const back = decodeWeights(file, specs);
    expect(back.map((w) => Array.from(w.data))).toEqual(ws.map((w) => Array.from(w.data)));
    expect(Object.is(back[0].data[4], -0)).toBe(true);
  });

  it('rejects a wrong layout, a wrong byte count or an unknown format', () => {
    const file = encodeWeights('m', ws);
    expect(() => decodeWeights(file, [specs[1], specs[0]])).toThrow(/DUEL_ERR_SHAPE_MISMATCH/);
    expect(() => decodeWeights({ ...file, float32le: file.float32le.slice(0, 8) }, specs)).toThrow(/DUEL_ERR_BAD_SPEC/);
    expect(() => decodeWeights({ ...file, format: 'x' as 'duel-weights/1' }, specs)).toThrow(/DUEL_ERR_BAD_SPEC/);
  });
});
