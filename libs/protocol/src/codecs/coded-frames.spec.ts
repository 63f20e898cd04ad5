import { ErrorCodes, Rng, type NamedWeights } from '@duel/util';
import { describe, expect, it } from 'vitest';
import { decodeFrame, decodeFrameDetailed, encodeFrame } from '../codec';
import type { ResultFrame, WelcomeFrame } from '../frames';
import { planSection } from '../tensor-section';
import { encodeRaw, TEST_LAYOUT, randomWeights } from '../test-frames';
import { validateFrame } from '../validate';
import { CODEC_NAMES, negotiateCodec, parseCodecSpec, type CodecName, type CodecSpec } from './codec-spec';
import { encodeTensors } from './coded-tensors';

const ctx = { layout: TEST_LAYOUT, from: 'worker' as const };

function result(grads: NamedWeights, codec: CodecSpec) {
  return {
    t: 'result' as const,
    taskId: '1.D0.0.0',
    workerId: 'w-1',
    phase: 'D' as const,
    versions: { g: 1, d: 2 },
    grads: encodeTensors(grads, codec),
    stats: { loss: 1, dReal: 0.5, dFake: 0.5, samples: 8, computeMs: 3 },
    ...(codec.name === 'fp32' ? {} : { codec: codec.name }),
  };
}

function maxErr(a: NamedWeights, b: NamedWeights): number {
  let m = 0;
  a.forEach((t, k) => t.data.forEach((v, i) => (m = Math.max(m, Math.abs(v - b[k].data[i])))));
  return m;
}

/** A coded result frame's header, to tamper with: the descriptors, and the section bytes. */
function parts(codec: CodecSpec, seed = 1) {
  const grads = randomWeights(TEST_LAYOUT.D, new Rng(seed));
  const frame = result(grads, codec);
  const { descriptors, sectionBytes } = planSection(frame.grads);
  const section = new Uint8Array(encodeFrame(frame).slice(-sectionBytes));
  const header: Record<string, unknown> & { grads: Record<string, unknown>[] } = { ...frame, grads: descriptors.map((d) => JSON.parse(JSON.stringify(d))) };
  return { header, section, grads };
}

function refused(bytes: Uint8Array): string {
  try {
    decodeFrame(bytes, ctx);
  } catch (e) {
    return (e as Error).message;
  }
  return 'accepted';
}

describe('coded result frames', () => {
  const bounds: Record<CodecName, (g: NamedWeights) => number> = {
    fp32: () => 0,
    fp16: (g) => 2 ** -11 * Math.max(...g.flatMap((t) => [...t.data].map(Math.abs))),
    int8: (g) => Math.max(...g.map((t) => Math.max(...[...t.data].map(Math.abs)) / 254)) * 1.0001,
    topk: (g) => Math.max(...g.flatMap((t) => [...t.data].map(Math.abs))),
  };

  for (const name of CODEC_NAMES) {
    it(`${name}: decodes to float32 gradients of the run's layout within the codec's error`, () => {
      const grads = randomWeights(TEST_LAYOUT.D, new Rng(3));
      const codec = name === 'topk' ? { name, ratio: 0.5 } : { name };
      const decoded = decodeFrame(encodeFrame(result(grads, codec)), ctx) as ResultFrame;
      expect(decoded.codec).toBe(name === 'fp32' ? undefined : name);
      decoded.grads.forEach((t, k) => {
        expect(t.data).toBeInstanceOf(Float32Array);
        expect(t.shape).toEqual(TEST_LAYOUT.D[k].shape);
      });
      expect(maxErr(decoded.grads, grads)).toBeLessThanOrEqual(bounds[name](grads));
    });
  }

  it('fp32 gradients decode as zero-copy views of the frame buffer', () => {
    const grads = randomWeights(TEST_LAYOUT.D, new Rng(3));
    const bytes = encodeFrame(result(grads, { name: 'fp32' }));
    const d = decodeFrameDetailed(bytes, ctx);
    expect(d.copiedTensors).toBe(0);
    for (const t of (d.frame as ResultFrame).grads) expect(t.data.buffer).toBe(bytes.buffer);
  });

  it('coded frames are smaller: fp16 ≈ 1/2, int8 ≈ 1/4 of fp32 on a large tensor', () => {
    const big: NamedWeights = [{ name: 'w', shape: [256, 256], data: new Rng(1).fillNormal(new Float32Array(65536)) }];
    const size = (c: CodecSpec) => encodeFrame({ ...result(big, c), phase: 'G' }).length;
    const fp32 = size({ name: 'fp32' });
    expect(size({ name: 'fp16' }) / fp32).toBeLessThan(0.51);
    expect(size({ name: 'int8' }) / fp32).toBeLessThan(0.26);
    expect(size({ name: 'topk', ratio: 0.05 }) / fp32).toBeLessThan(0.11);
  });

  it('refuses malformed coded tensors with BAD_FRAME and never crashes', () => {
    const bad = (mutate: (p: ReturnType<typeof parts>) => void, codec: CodecSpec = { name: 'int8' }) => {
      const p = parts(codec);
      mutate(p);
      return refused(encodeRaw(p.header, { section: p.section }));
    };
    const BAD = ErrorCodes.BAD_FRAME;
    const untouched = () => undefined;
    expect(bad(untouched)).toBe('accepted');
    expect(bad(untouched, { name: 'topk', ratio: 0.3 })).toBe('accepted');
    expect(bad((p) => (p.header.grads[0].scale = -1))).toMatch(BAD);
    expect(bad((p) => (p.header.grads[0].scale = 1e39))).toMatch(BAD);
    expect(bad((p) => (p.header.grads[0].scale = Number.NaN))).toMatch(BAD);
    expect(bad((p) => delete p.header.grads[0].scale)).toMatch(/scale missing/);
    expect(bad((p) => (p.header.grads[0].dtype = 'float32'))).toMatch(BAD);
    expect(bad((p) => (p.header.codec = 'int4'))).toMatch(BAD);
    expect(bad((p) => delete p.header.codec)).toMatch(/dtype int8, expected float32/);
    expect(bad((p) => (p.header.grads[0].length = 1e12))).toMatch(BAD);
    // topk: an index out of range, indices out of order, an nnz larger than the tensor, a length that is not 8·nnz.
    const topk = { name: 'topk' as const, ratio: 0.3 };
    expect(bad((p) => new DataView(p.section.buffer).setUint32(0, 10, true), topk)).toMatch(/out of range/);
    expect(bad((p) => new DataView(p.section.buffer).setUint32(4, 0, true), topk)).toMatch(/ascending/);
    expect(bad((p) => (p.header.grads[0].nnz = 11), topk)).toMatch(BAD);
    expect(bad((p) => (p.header.grads[0].nnz = 2), topk)).toMatch(/8 × nnz/);
    expect(bad((p) => (p.header.grads[0].nnz = 2 ** 40), topk)).toMatch(BAD);
  });

  it('a weights frame may not be coded', () => {
    const tensors = randomWeights(TEST_LAYOUT.G, new Rng(2));
    const frame = encodeFrame({ t: 'weights', net: 'G', version: 1, tensors });
    // Re-wrap the same section with codec: 'int8' added to the header.
    const { descriptors, sectionBytes } = planSection(tensors);
    const bytes = encodeRaw({ t: 'weights', net: 'G', version: 1, tensors: descriptors, codec: 'int8' }, { section: frame.slice(-sectionBytes) });
    expect(refused(bytes)).toMatch(/only results carry coded tensors/);
  });

  it('NaN survives coding and is refused as NON_FINITE, as in fp32', () => {
    const grads = randomWeights(TEST_LAYOUT.D, new Rng(3));
    grads[1].data[2] = Number.NaN;
    expect(refused(encodeFrame(result(grads, { name: 'fp16' })))).toMatch(ErrorCodes.NON_FINITE);
  });
});

describe('codec negotiation', () => {
  it('parses --codec values and refuses others', () => {
    expect(parseCodecSpec('int8')).toEqual({ name: 'int8' });
    expect(parseCodecSpec('topk')).toEqual({ name: 'topk', ratio: 0.1 });
    expect(parseCodecSpec('topk:0.05')).toEqual({ name: 'topk', ratio: 0.05 });
    for (const bad of ['int4', 'topk:0', 'topk:0.9', 'topk:x', 'fp16:2', '']) expect(() => parseCodecSpec(bad)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });

  it('gives a worker the requested codec only when it offers it; an old worker without codecs gets fp32', () => {
    expect(negotiateCodec({ name: 'int8' }, ['fp32', 'int8'])).toEqual({ name: 'int8' });
    expect(negotiateCodec({ name: 'int8' }, ['fp32', 'fp16'])).toEqual({ name: 'fp32' });
    expect(negotiateCodec({ name: 'int8' }, undefined)).toEqual({ name: 'fp32' });
    expect(negotiateCodec({ name: 'topk', ratio: 0.2 }, ['topk'])).toEqual({ name: 'topk', ratio: 0.2 });
  });

  it('welcome.codec round-trips and is validated', () => {
    const welcome: WelcomeFrame = {
      t: 'welcome',
      workerId: 'w-1',
      run: { id: 'r', dataset: 'ring8', seed: 1, model: {}, loss: 'nonsaturating', k: 1, batchSize: 8, mode: 'sync', staleness: 0 },
      heartbeatMs: 1000,
      versions: { g: 0, d: 0 },
      codec: { name: 'topk', ratio: 0.25 },
    };
    expect((decodeFrame(encodeFrame(welcome)) as WelcomeFrame).codec).toEqual({ name: 'topk', ratio: 0.25 });
    expect(() => validateFrame({ ...welcome, codec: { name: 'int8', ratio: 0.5 } })).toThrow(/only topk takes a ratio/);
    expect(() => validateFrame({ ...welcome, codec: { name: 'zip' } })).toThrow(/DUEL_ERR_BAD_FRAME/);
    expect((validateFrame({ ...welcome, codec: undefined }) as WelcomeFrame).codec).toBeUndefined();
  });
});
