import { DuelError, ErrorCodes, Rng } from '@duel/util';
import { describe, expect, it } from 'vitest';
import { BufferLeases, decodeFrame, decodeFrameDetailed, encodeFrame, encodeFrameInto, encodeWeightsOnce, FramePool, WeightsBroadcastCache } from './codec';
import { FRAME_TYPES, makeFrame, type CoordinatorFrameType, type Frame, type FrameSender, type ResultFrame, type WeightsFrame } from './frames';
import { randomWeights, sampleFrames, TEST_LAYOUT } from './test-frames';

const ctx = { layout: TEST_LAYOUT };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DuelError);
    return (e as DuelError).code;
  }
  throw new Error('expected a DuelError');
}

describe('frame codec', () => {
  it('round-trips one frame of every type', () => {
    const frames = sampleFrames();
    expect(new Set(frames.map((f) => f.t))).toEqual(new Set(FRAME_TYPES));
    for (const f of frames) {
      const bytes = encodeFrame(f);
      expect(bytes[0]).toBe(0x44);
      expect(bytes[1]).toBe(0x55);
      expect(decodeFrame(bytes, ctx)).toEqual(f);
    }
  });

  it('lays tensors at 8-aligned offsets after an 8-aligned header', () => {
    const f = sampleFrames().find((x) => x.t === 'weights') as WeightsFrame;
    const bytes = encodeFrame(f);
    const headerLen = new DataView(bytes.buffer).getUint32(4, true);
    const start = Math.ceil((8 + headerLen) / 8) * 8;
    expect(bytes[3]).toBe(1);
    expect(bytes.length % 8).toBe(0);
    // First tensor's bytes sit right at the section start, little-endian float32.
    expect(new DataView(bytes.buffer).getFloat32(start, true)).toBe(f.tensors[0].data[0]);
  });

  it('decodes aligned tensors as zero-copy views and copies unaligned ones', () => {
    const f = sampleFrames().find((x) => x.t === 'result') as ResultFrame;
    const bytes = encodeFrame(f);
    const aligned = decodeFrameDetailed(bytes, ctx);
    expect(aligned.copiedTensors).toBe(0);
    const grads = (aligned.frame as ResultFrame).grads;
    for (const g of grads) expect(g.data.buffer).toBe(bytes.buffer);

    // Same bytes one byte into a bigger buffer, as a ws Buffer slice may be.
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const unaligned = decodeFrameDetailed(shifted.subarray(1), ctx);
    expect(unaligned.copiedTensors).toBe(grads.length);
    const copied = (unaligned.frame as ResultFrame).grads;
    for (const g of copied) {
      expect(g.data.buffer).not.toBe(shifted.buffer);
      expect(g.data.byteOffset % 4).toBe(0);
    }
    expect(unaligned.frame).toEqual(f);

    // An ArrayBuffer (browser binaryType 'arraybuffer') is offset 0: zero-copy.
    const ab = bytes.slice().buffer;
    expect(decodeFrameDetailed(ab, ctx).copiedTensors).toBe(0);
  });

  it('aliases the input buffer: views see later writes, so callers must not reuse it', () => {
    const f = sampleFrames().find((x) => x.t === 'weights') as WeightsFrame;
    const bytes = encodeFrame(f);
    const w = (decodeFrame(bytes, ctx) as WeightsFrame).tensors[0];
    const before = w.data[0];
    new DataView(bytes.buffer).setFloat32(w.data.byteOffset, before + 1, true);
    expect(w.data[0]).toBe(Math.fround(before + 1));
  });

  it('type-checks payloads by frame name', () => {
    const sent: Frame[] = [];
    const coordinator: FrameSender<CoordinatorFrameType> = { send: (t, payload) => sent.push(makeFrame(t, payload)) };
    coordinator.send('ack', { taskId: 't-1', status: 'duplicate', code: ErrorCodes.DUPLICATE });
    // @ts-expect-error a coordinator never sends hello
    coordinator.send('hello', { protocol: 1, kind: 'node', capabilities: { backend: 'cpu', device: '', maxBatch: 1 } });
    // @ts-expect-error ack status is a closed set
    makeFrame('ack', { taskId: 't-2', status: 'ok' });
    expect(decodeFrame(encodeFrame(sent[0]))).toEqual({ t: 'ack', taskId: 't-1', status: 'duplicate', code: 'DUEL_ERR_DUPLICATE' });
  });

  it('refuses frames whose tensor data does not match its shape at encode time', () => {
    const bad: WeightsFrame = { t: 'weights', net: 'G', version: 0, tensors: [{ name: 'x', shape: [2, 2], data: new Float32Array(3) }] };
    expect(codeOf(() => encodeFrame(bad))).toBe(ErrorCodes.SHAPE_MISMATCH);
  });
});

describe('weights broadcast', () => {
  const tensors = randomWeights(TEST_LAYOUT.G, new Rng(5));

  it('encodes once and decodes on every receiver', () => {
    const enc = encodeWeightsOnce('G', 9, tensors);
    expect(Object.isFrozen(enc)).toBe(true);
    const a = decodeFrame(enc.bytes, ctx) as WeightsFrame;
    const b = decodeFrame(enc.bytes, ctx) as WeightsFrame;
    expect(a.version).toBe(9);
    expect(a.tensors[1].data).toEqual(tensors[1].data);
    // Both receivers view the one shared buffer.
    expect(a.tensors[0].data.buffer).toBe(b.tensors[0].data.buffer);
  });

  it('the cache re-encodes only when the version moves', () => {
    const cache = new WeightsBroadcastCache();
    let encodes = 0;
    const source = () => {
      encodes++;
      return tensors;
    };
    const first = cache.get('G', 1, source);
    expect(cache.get('G', 1, source).bytes).toBe(first.bytes);
    expect(encodes).toBe(1);
    expect(cache.get('G', 2, source).version).toBe(2);
    cache.get('D', 1, () => randomWeights(TEST_LAYOUT.D, new Rng(1)));
    expect(encodes).toBe(2);
    expect(cache.get('G', 2, source).version).toBe(2);
  });

  it('encodes into a reused buffer byte for byte as into a fresh one, whatever the buffer held', () => {
    const frame: WeightsFrame = { t: 'weights', net: 'G', version: 3, tensors };
    const fresh = encodeFrame(frame);
    const dirty = new Uint8Array(fresh.length).fill(0xa5);
    const out = encodeFrameInto(frame, dirty);
    expect(out).toBe(dirty);
    expect(Buffer.compare(out, fresh)).toBe(0);
    // A version whose header is a byte longer still fits the same aligned size, and its padding is zeroed.
    const later: WeightsFrame = { ...frame, version: 300 };
    expect(Buffer.compare(encodeFrameInto(later, out), encodeFrame(later))).toBe(0);
    // A buffer of another size is not used.
    const small = new Uint8Array(fresh.length - 8);
    expect(encodeFrameInto(frame, small)).not.toBe(small);
  });

  it('a frame pool reuses a released buffer, byte for byte as a fresh encode, while headers vary; never one still held', () => {
    const pool = new FramePool();
    const result = (taskId: string, loss: number) =>
      ({ t: 'result', taskId, workerId: 'w-1', phase: 'G', versions: { g: 1, d: 1 }, grads: tensors, stats: { loss, dReal: 0, dFake: 0.5, samples: 8, computeMs: 1 } }) as const;
    const a = pool.encode(result('1.G.0.0', 0.5));
    expect(Buffer.compare(a.bytes, encodeFrame(result('1.G.0.0', 0.5)))).toBe(0);
    a.bytes.fill(0xa5); // what a reused buffer may hold
    // Held: a second frame gets a buffer of its own.
    const b = pool.encode(result('2.G.0.0', 0.25));
    expect(b.bytes.buffer).not.toBe(a.bytes.buffer);
    a.release();
    a.release(); // twice is once
    expect(pool.idle).toBe(1);
    // A longer task id and a float loss (a longer header) still fit, and the padding is zeroed again.
    const later = result('123456.G.0.0', 0.123456789);
    const c = pool.encode(later);
    expect(c.bytes.buffer).toBe(a.bytes.buffer);
    expect(c.bytes.byteOffset).toBe(0);
    expect(Buffer.compare(c.bytes, encodeFrame(later))).toBe(0);
    expect(pool.idle).toBe(0);
    // A buffer much larger than the frame is not taken (a small frame does not pin a big one).
    c.release();
    const small = pool.encode({ t: 'result', taskId: 's', workerId: 'w-1', phase: 'G', versions: { g: 1, d: 1 }, grads: [], stats: { loss: 0, dReal: 0, dFake: 0, samples: 0, computeMs: 0 } });
    expect(small.bytes.buffer).not.toBe(a.bytes.buffer);
    expect(decodeFrame(small.bytes, { from: 'worker' }).t).toBe('result');
  });

  it('the cache reuses an old version\'s buffer only when no write holds it and nothing pinned it', () => {
    const leases = new BufferLeases();
    const cache = new WeightsBroadcastCache(leases);
    const v1 = cache.get('G', 1, () => tensors).bytes;
    const done1 = leases.lease(v1); // a socket is still writing version 1
    const v2 = cache.get('G', 2, () => tensors).bytes; // v1 was the latest until now: a fresh buffer
    const v3 = cache.get('G', 3, () => tensors).bytes; // v1 still in flight: fresh again
    expect(new Set([v1, v2, v3]).size).toBe(3);
    done1();
    done1(); // a second call changes nothing
    leases.pin(v2); // a parked socket keeps version 2 for later
    const v4 = cache.get('G', 4, () => tensors).bytes;
    expect(v4).toBe(v1);
    expect((decodeFrame(v4, ctx) as WeightsFrame).version).toBe(4);
    const v5 = cache.get('G', 5, () => tensors).bytes; // v2 pinned, v3 free
    expect(v5).toBe(v3);
    expect((decodeFrame(v2, ctx) as WeightsFrame).version).toBe(2);
    expect((decodeFrame(v5, ctx) as WeightsFrame).version).toBe(5);
    // Two writes of one buffer: free only after both are done.
    const a = leases.lease(v5);
    const b = leases.lease(v5);
    a();
    expect(leases.isFree(v5)).toBe(false);
    b();
    expect(leases.isFree(v5)).toBe(true);
  });
});
