import { DuelError, ErrorCodes, Rng } from '@duel/util';
import { describe, expect, it } from 'vitest';
import { decodeFrameDetailed, encodeFrame, encodeHeader, TENSOR_FIELDS } from './codec';
import type { Frame } from './frames';
import { encodeRaw, sampleFrames, TEST_LAYOUT } from './test-frames';

/**
 * Mini fuzz: 20k random and mutated frames. Decoding must either return a
 * frame that re-encodes to the same frame, or throw a DuelError that is not
 * INTERNAL (INTERNAL would mean a bug of ours slipped through), and must never
 * touch Object.prototype.
 */
const ITERATIONS = 20_000;
const ctx = { layout: TEST_LAYOUT, limits: { maxFrameBytes: 1 << 20, maxHeaderBytes: 1 << 16 } };

const EVIL: (rng: Rng) => unknown = (rng) => {
  const choices: (() => unknown)[] = [
    () => null,
    () => -1,
    () => 2 ** 53 + 2,
    () => 1e308 * 10,
    () => NaN,
    () => 0.5,
    () => 'x'.repeat(rng.int(3) === 0 ? 5000 : 3),
    () => '',
    () => true,
    () => [],
    () => [1, 'a', null],
    () => new Array(2000).fill(7),
    () => new Map<string, unknown>([['__proto__', { polluted: 1 }]]),
    () => new Map<string, unknown>([['constructor', { prototype: { polluted: 1 } }]]),
    () => new Map<unknown, unknown>([[1, 2]]),
    () => ({ polluted: true }),
    () => 2n ** 62n,
    () => new Uint8Array([1, 2, 3]),
    () => new Date(0),
    () => deep(rng.int(80)),
    () => 'DUEL_ERR_' + 'A'.repeat(rng.int(80)),
    () => rng.nextUint32(),
  ];
  return choices[rng.int(choices.length)]();
};

function deep(n: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = { a: v };
  return v;
}

/** Every [object, key] in a header, to pick one to corrupt. */
function slots(o: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []): typeof out {
  if (Array.isArray(o)) {
    o.forEach((v, i) => {
      out.push([o, i]);
      slots(v, out);
    });
  } else if (o && typeof o === 'object' && !ArrayBuffer.isView(o)) {
    const rec = o as Record<string, unknown>;
    for (const k of Object.keys(rec)) {
      out.push([rec, k]);
      slots(rec[k], out);
    }
  }
  return out;
}

function sectionOf(full: Uint8Array): Uint8Array {
  const headerLen = new DataView(full.buffer, full.byteOffset).getUint32(4, true);
  return full.subarray(Math.ceil((8 + headerLen) / 8) * 8);
}

/** A sample frame re-encoded with one header field replaced (tensor section kept). */
function headerMutant(frame: Frame, full: Uint8Array, rng: Rng): Uint8Array {
  const enc = encodeHeader(frame);
  const key = TENSOR_FIELDS[frame.t];
  const header: Record<string, unknown> = structuredClone({ ...frame, ...(key ? { [key]: enc.descriptors } : {}) });
  const all = slots(header);
  const [obj, k] = all[rng.int(all.length)];
  const roll = rng.int(10);
  if (roll === 0 && !Array.isArray(obj)) delete obj[k as string];
  else if (roll === 1 && !Array.isArray(obj)) obj[`extra${rng.int(3)}`] = EVIL(rng);
  else (obj as Record<string | number, unknown>)[k] = EVIL(rng);
  return encodeRaw(header, { section: key ? sectionOf(full) : undefined });
}

function byteMutant(base: Uint8Array, rng: Rng): Uint8Array {
  const b = base.slice();
  const v = new DataView(b.buffer);
  switch (rng.int(8)) {
    case 0:
      return b.subarray(0, rng.int(b.length));
    case 1:
      for (let i = 0, n = 1 + rng.int(4); i < n; i++) b[rng.int(b.length)] ^= 1 << rng.int(8);
      return b;
    case 2:
      for (let i = 0, n = 1 + rng.int(8); i < n; i++) b[8 + rng.int(Math.max(1, b.length - 8))] = rng.int(256);
      return b;
    case 3:
      v.setUint32(4, rng.int(2) ? rng.nextUint32() : v.getUint32(4, true) + rng.int(17) - 8, true);
      return b;
    case 4: {
      const at = rng.int(b.length);
      const junk = Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.int(256));
      return rng.int(2) ? new Uint8Array([...b.subarray(0, at), ...junk, ...b.subarray(at)]) : new Uint8Array([...b.subarray(0, at), ...b.subarray(at + junk.length)]);
    }
    case 5: {
      const r = Uint8Array.from({ length: rng.int(200) }, () => rng.int(256));
      if (r.length >= 4 && rng.int(2)) r.set([0x44, 0x55, 1, rng.int(2)]);
      return r;
    }
    case 6:
      b[3] = rng.int(256);
      return b;
    default: {
      // NaN or ±Inf at a float32 slot (hits tensors in weights/result frames).
      const at = 4 * rng.int(b.length >> 2);
      if (at >= 8) v.setUint32(at, [0x7fc00000, 0x7f800000, 0xff800000, 0x7fa00001][rng.int(4)], true);
      return b;
    }
  }
}

describe('decode fuzz', () => {
  it(`survives ${ITERATIONS} random and mutated frames with only DuelErrors`, () => {
    const rng = new Rng(20261101);
    const frames = sampleFrames(7);
    const encoded = frames.map(encodeFrame);
    const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    const foreign: string[] = [];
    const internal: string[] = [];
    const unstable: string[] = [];
    const codes = new Map<string, number>();
    let accepted = 0;

    for (let i = 0; i < ITERATIONS; i++) {
      const which = rng.int(frames.length);
      const bytes = rng.int(2) ? headerMutant(frames[which], encoded[which], rng) : byteMutant(encoded[which], rng);
      try {
        const { frame } = decodeFrameDetailed(bytes, ctx);
        accepted++;
        // Whatever is accepted must be a frame we would send ourselves.
        const again = decodeFrameDetailed(encodeFrame(frame), ctx).frame;
        if (JSON.stringify(again) !== JSON.stringify(frame)) unstable.push(`#${i} ${frame.t}`);
      } catch (e) {
        if (!(e instanceof DuelError)) foreign.push(`#${i} ${String(e)}`);
        else {
          codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
          if (e.code === ErrorCodes.INTERNAL) internal.push(`#${i} ${JSON.stringify(e.details)}`);
        }
      }
    }

    expect(foreign.slice(0, 5)).toEqual([]);
    expect(internal.slice(0, 5)).toEqual([]);
    expect(unstable.slice(0, 5)).toEqual([]);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
    expect((({}) as Record<string, unknown>)['polluted']).toBeUndefined();
    // The mutations reach the deep checks, not only the envelope.
    for (const code of [ErrorCodes.BAD_FRAME, ErrorCodes.UNKNOWN_FRAME, ErrorCodes.PROTOCOL_VERSION, ErrorCodes.SHAPE_MISMATCH, ErrorCodes.NON_FINITE]) {
      expect(codes.get(code) ?? 0, code).toBeGreaterThan(0);
    }
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(ITERATIONS / 2);
    // The decoder holds no state a bad frame could break.
    for (const f of frames) expect(decodeFrameDetailed(encodeFrame(f), ctx).frame).toEqual(f);
  });
});
