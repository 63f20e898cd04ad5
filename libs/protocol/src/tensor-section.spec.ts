import { DuelError, ErrorCodes, Rng } from '@duel/util';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from './limits';
import { alignUp, parseDescriptors, planSection, readSection, writeSection, type TensorData, type WireTensor } from './tensor-section';

/** Float32 bit patterns a lossy path would change: NaN payloads, signalling NaN, -0, denormals, ±Inf, extremes. */
const F32_SPECIAL_BITS = [
  0x7fc00000, 0x7fc00001, 0xffbadbad, 0x7f800001, 0xff800001, 0x7fffffff, 0x80000000, 0x00000000, 0x00000001,
  0x807fffff, 0x00800000, 0x7f800000, 0xff800000, 0x7f7fffff, 0xff7fffff, 0x3f800000,
];

function bytesOf(d: TensorData): Uint8Array {
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Index of the first differing byte, or -1 (vitest's deep equal is slow on 128 KiB arrays). */
function firstDiff(a: TensorData, b: TensorData): number {
  const x = bytesOf(a);
  const y = bytesOf(b);
  if (x.length !== y.length) return -2;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

function allDtypeTensors(): WireTensor[] {
  const rng = new Rng(3);
  const f32bits = new Uint32Array(F32_SPECIAL_BITS.length + 61);
  f32bits.set(F32_SPECIAL_BITS);
  for (let i = F32_SPECIAL_BITS.length; i < f32bits.length; i++) f32bits[i] = rng.nextUint32();
  const i32 = new Int32Array([0, -1, 1, 0x7fffffff, -0x80000000, 123456789, -987654321]);
  const u8 = new Uint8Array(256).map((_, i) => i);
  // Every binary16 pattern, NaNs (0x7c01..0x7fff, 0xfc01..) and subnormals included.
  const f16 = new Uint16Array(65536).map((_, i) => i);
  return [
    { name: 'f32', shape: [f32bits.length], data: new Float32Array(f32bits.buffer) },
    { name: 'i32', shape: [7, 1], data: i32 },
    { name: 'u8-odd', shape: [3], data: new Uint8Array([1, 2, 255]) },
    { name: 'u8', shape: [16, 16], data: u8 },
    { name: 'f16', shape: [256, 256], data: f16 },
    { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
  ];
}

function roundTrip(tensors: WireTensor[], shift: number, hostLittleEndian = true) {
  const { descriptors, sectionBytes } = planSection(tensors);
  const buf = new Uint8Array(shift + sectionBytes);
  writeSection(buf, shift, tensors, descriptors, hostLittleEndian);
  const header = JSON.parse(JSON.stringify(descriptors));
  const parsed = parseDescriptors(header, DEFAULT_LIMITS, 'test');
  expect(alignUp(parsed.end)).toBe(sectionBytes);
  return { buf, ...readSection(buf, shift, parsed.descriptors, hostLittleEndian) };
}

describe('tensor section', () => {
  it('round-trips every dtype bit-exactly, aligned (zero-copy) and unaligned (copied)', () => {
    const tensors = allDtypeTensors();
    for (const shift of [0, 8, 1, 2, 3, 5]) {
      const out = roundTrip(tensors, shift);
      out.tensors.forEach((t, i) => {
        expect(t.name).toBe(tensors[i].name);
        expect(t.shape).toEqual(tensors[i].shape);
        expect(t.data.constructor).toBe(tensors[i].data.constructor);
        expect(firstDiff(t.data, tensors[i].data)).toBe(-1);
      });
      if (shift % 8 === 0) expect(out.copied).toBe(0);
      else expect(out.copied).toBeGreaterThan(0);
    }
  });

  it('keeps special float32 values distinguishable after decode', () => {
    const out = roundTrip(allDtypeTensors(), 1);
    const bits = new Uint32Array(out.tensors[0].data.slice().buffer);
    expect(Array.from(bits.slice(0, F32_SPECIAL_BITS.length))).toEqual(F32_SPECIAL_BITS);
    const f = out.tensors[0].data as Float32Array;
    expect(Object.is(f[6], -0)).toBe(true);
    expect(f[8]).toBe(1.401298464324817e-45);
  });

  it('writes little-endian bytes and byte-swaps on a big-endian host', () => {
    const t: WireTensor[] = [{ name: 'x', shape: [1], data: new Int32Array([0x01020304]) }];
    const le = roundTrip(t, 0, true);
    expect(Array.from(le.buf.subarray(0, 4))).toEqual([4, 3, 2, 1]);
    // Simulated big-endian host: host bytes are swapped on write and swapped back on read.
    const be = roundTrip(allDtypeTensors(), 0, false);
    expect(be.copied).toBe(allDtypeTensors().length);
    const want = allDtypeTensors();
    be.tensors.forEach((x, i) => expect(firstDiff(x.data, want[i].data)).toBe(-1));
  });

  it('pads each tensor to 8 bytes', () => {
    const { descriptors, sectionBytes } = planSection(allDtypeTensors());
    for (const d of descriptors) expect(d.offset % 8).toBe(0);
    expect(descriptors[2]).toMatchObject({ name: 'u8-odd', offset: 344, length: 3 });
    expect(descriptors[3].offset).toBe(352);
    expect(sectionBytes % 8).toBe(0);
  });

  it('refuses descriptors that lie', () => {
    const base = { name: 'a', shape: [2, 2], dtype: 'float32', offset: 0, length: 16 };
    const cases: [unknown, string][] = [
      [[{ ...base, length: 15 }], ErrorCodes.BAD_FRAME],
      [[{ ...base, offset: 4 }], ErrorCodes.BAD_FRAME],
      [[base, { ...base, name: 'b', offset: 8 }], ErrorCodes.BAD_FRAME],
      [[{ ...base, dtype: 'float64' }], ErrorCodes.BAD_FRAME],
      [[{ ...base, shape: [2, -2] }], ErrorCodes.BAD_FRAME],
      [[{ ...base, shape: [1.5] }], ErrorCodes.BAD_FRAME],
      [[{ ...base, shape: [65536, 65536], length: 65536 * 65536 * 4 }], ErrorCodes.BAD_FRAME],
      [[{ ...base, shape: [1, 1, 1, 1, 1, 1, 1, 1, 1], length: 4 }], ErrorCodes.BAD_FRAME],
      [{ 0: base }, ErrorCodes.BAD_FRAME],
      [new Array(DEFAULT_LIMITS.maxTensors + 1).fill(base), ErrorCodes.BAD_FRAME],
    ];
    for (const [raw, code] of cases) {
      let err: unknown;
      try {
        parseDescriptors(raw, DEFAULT_LIMITS, 'x');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DuelError);
      expect((err as DuelError).code).toBe(code);
    }
  });
});
