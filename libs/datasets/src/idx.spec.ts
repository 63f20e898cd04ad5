import { describe, expect, it } from 'vitest';
import { DuelError, ErrorCodes } from '@duel/util';
import { encodeIdx, parseIdx, type IdxArray } from './idx';

/** Builds IDX bytes: magic, big-endian dims, then `body`. */
function idxBytes(dtype: number, dims: number[], body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  out.set([0, 0, dtype, dims.length]);
  const v = new DataView(out.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(body, 4 + 4 * dims.length);
  return out;
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof DuelError ? e.code : 'not a DuelError';
  }
  return undefined;
}

describe('parseIdx', () => {
  it('parses uint8 images as a view, with dims', () => {
    const body = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    const a = parseIdx(idxBytes(0x08, [2, 3, 4], body));
    expect(a.dtype).toBe('uint8');
    expect(a.dims).toEqual([2, 3, 4]);
    expect(Array.from(a.data)).toEqual(Array.from(body));
  });

  it('reads multi-byte types big-endian', () => {
    const body = new Uint8Array(8);
    const v = new DataView(body.buffer);
    v.setFloat32(0, 1.5, false);
    v.setFloat32(4, -2.25, false);
    expect(Array.from(parseIdx(idxBytes(0x0d, [2], body)).data)).toEqual([1.5, -2.25]);
    const ints = new Uint8Array(4);
    new DataView(ints.buffer).setInt16(0, -300, false);
    new DataView(ints.buffer).setInt16(2, 513, false);
    const a = parseIdx(idxBytes(0x0b, [2], ints));
    expect(a.dtype).toBe('int16');
    expect(Array.from(a.data)).toEqual([-300, 513]);
  });

  it('accepts bytes at an offset inside a larger buffer', () => {
    const inner = idxBytes(0x08, [3], Uint8Array.of(7, 8, 9));
    const outer = new Uint8Array(inner.length + 5);
    outer.set(inner, 5);
    expect(Array.from(parseIdx(outer.subarray(5)).data)).toEqual([7, 8, 9]);
  });

  it.each([
    ['empty', new Uint8Array(0)],
    ['bad magic', Uint8Array.of(1, 0, 8, 1, 0, 0, 0, 0)],
    ['gzip', Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0)],
    ['unknown dtype', idxBytes(0x07, [1], Uint8Array.of(0))],
    ['zero dims', Uint8Array.of(0, 0, 8, 0)],
    ['truncated header', Uint8Array.of(0, 0, 8, 3, 0, 0, 0, 1)],
    ['truncated body', idxBytes(0x08, [10, 28, 28], new Uint8Array(10 * 28 * 28 - 1))],
    ['trailing bytes', idxBytes(0x08, [2], Uint8Array.of(1, 2, 3))],
    ['truncated float body', idxBytes(0x0d, [2], new Uint8Array(7))],
  ])('rejects %s with DATASET_CORRUPT', (_what, bytes) => {
    expect(codeOf(() => parseIdx(bytes, 'file.idx'))).toBe(ErrorCodes.DATASET_CORRUPT);
  });

  it('names the source and the sizes in the message', () => {
    expect(() => parseIdx(idxBytes(0x08, [5], new Uint8Array(3)), '/data/x-idx1-ubyte')).toThrow(
      /\/data\/x-idx1-ubyte: truncated: header \[5\] uint8 needs 13 bytes, got 11/,
    );
  });
});

describe('encodeIdx', () => {
  it.each<IdxArray>([
    { dtype: 'uint8', dims: [2, 2], data: Uint8Array.of(0, 1, 254, 255) },
    { dtype: 'int8', dims: [3], data: Int8Array.of(-128, 0, 127) },
    { dtype: 'int32', dims: [1, 2], data: Int32Array.of(-70000, 70000) },
    { dtype: 'float64', dims: [2], data: Float64Array.of(Math.PI, -1e-300) },
  ])('round-trips $dtype through parseIdx', (a) => {
    const b = parseIdx(encodeIdx(a));
    expect(b.dtype).toBe(a.dtype);
    expect(b.dims).toEqual(a.dims);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
  });

  it('writes the MNIST magic 0x00000803 for uint8 [N, 28, 28]', () => {
    const bytes = encodeIdx({ dtype: 'uint8', dims: [1, 28, 28], data: new Uint8Array(784) });
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0, 0, 8, 3, 0, 0, 0, 1]);
  });

  it('rejects data that does not fill the dims', () => {
    expect(() => encodeIdx({ dtype: 'uint8', dims: [3], data: new Uint8Array(2) })).toThrow(/SHAPE_MISMATCH/);
  });
});
