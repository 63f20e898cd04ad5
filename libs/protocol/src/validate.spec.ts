import { DuelError, ErrorCodes, wasFoundFinite } from '@duel/util';
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame } from './codec';
import type { Frame, HelloFrame, ResultFrame, WelcomeFrame } from './frames';
import { DEFAULT_LIMITS } from './limits';
import { encodeRaw, sampleFrames, TEST_LAYOUT } from './test-frames';
import { validateFrame, type ValidationContext } from './validate';

const ctx: ValidationContext = { layout: TEST_LAYOUT };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof DuelError)) throw e;
    return e.code;
  }
  return 'OK';
}

function sample<T extends Frame['t']>(t: T, nth = 0): Extract<Frame, { t: T }> {
  return sampleFrames().filter((f) => f.t === t)[nth] as Extract<Frame, { t: T }>;
}

/** A header (plain object) with one field path replaced; tensors stay attached. */
function withField(frame: Frame, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(frame) as unknown as Record<string, unknown>;
  const keys = path.split('.');
  let o = copy;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[keys[keys.length - 1]] = value;
  return copy;
}

describe('validateFrame: schema', () => {
  const cases: [Frame['t'], string, unknown, string][] = [
    ['hello', 'protocol', 2, ErrorCodes.PROTOCOL_VERSION],
    ['hello', 'protocol', '1', ErrorCodes.PROTOCOL_VERSION],
    ['hello', 'kind', 'gpu', ErrorCodes.BAD_FRAME],
    ['hello', 'capabilities.maxBatch', 0, ErrorCodes.BAD_FRAME],
    ['hello', 'capabilities.maxBatch', 1.5, ErrorCodes.BAD_FRAME],
    ['hello', 'capabilities.maxBatch', '64', ErrorCodes.BAD_FRAME],
    ['hello', 'capabilities.backend', '', ErrorCodes.BAD_FRAME],
    ['hello', 'capabilities.codecs', ['ok', 7], ErrorCodes.BAD_FRAME],
    ['hello', 'capabilities.codecs', new Array(17).fill('c'), ErrorCodes.BAD_FRAME],
    ['hello', 'token', 'x'.repeat(4097), ErrorCodes.BAD_FRAME],
    ['hello', 'resume.workerId', 'has space', ErrorCodes.BAD_FRAME],
    ['hello', 'resume.workerId', undefined, ErrorCodes.BAD_FRAME],
    ['hello', 'resume', 'w-7', ErrorCodes.BAD_FRAME],
    ['hello', 'resume.token', 42, ErrorCodes.BAD_FRAME],
    ['hello', 'resume.token', ['tok'], ErrorCodes.BAD_FRAME],
    ['hello', 'resume.token', '', ErrorCodes.BAD_FRAME],
    ['hello', 'resume.token', 'a'.repeat(129), ErrorCodes.BAD_FRAME],
    ['hello', 'resume.token', 'not base64url!', ErrorCodes.BAD_FRAME],
    ['hello', 'resume.token', 'abc=', ErrorCodes.BAD_FRAME],
    ['hello', 'capabilities', [], ErrorCodes.BAD_FRAME],
    ['welcome', 'workerId', 'x'.repeat(65), ErrorCodes.BAD_FRAME],
    ['welcome', 'run.seed', 2 ** 32, ErrorCodes.BAD_FRAME],
    ['welcome', 'run.seed', -1, ErrorCodes.BAD_FRAME],
    ['welcome', 'run.mode', 'semi', ErrorCodes.BAD_FRAME],
    ['welcome', 'run.k', 0, ErrorCodes.BAD_FRAME],
    ['welcome', 'run.staleness', -1, ErrorCodes.BAD_FRAME],
    ['welcome', 'run.model', [1, 2], ErrorCodes.BAD_FRAME],
    ['welcome', 'run.model', { when: new Date(0) }, ErrorCodes.BAD_FRAME],
    ['welcome', 'run.model', { big: 10n }, ErrorCodes.BAD_FRAME],
    ['welcome', 'run.model', { x: Infinity }, ErrorCodes.BAD_FRAME],
    ['welcome', 'heartbeatMs', 10, ErrorCodes.BAD_FRAME],
    ['welcome', 'versions.g', -1, ErrorCodes.BAD_FRAME],
    ['welcome', 'versions.d', 2 ** 53, ErrorCodes.BAD_FRAME],
    ['welcome', 'resumeToken', 7, ErrorCodes.BAD_FRAME],
    ['welcome', 'resumeToken', '', ErrorCodes.BAD_FRAME],
    ['welcome', 'resumeToken', 'x'.repeat(129), ErrorCodes.BAD_FRAME],
    ['welcome', 'resumeToken', 'a/b+c', ErrorCodes.BAD_FRAME],
    ['weights', 'net', 'X', ErrorCodes.BAD_FRAME],
    ['weights', 'version', null, ErrorCodes.BAD_FRAME],
    ['task', 'shard.index', 4, ErrorCodes.BAD_FRAME],
    ['task', 'shard.count', 0, ErrorCodes.BAD_FRAME],
    ['task', 'deadlineMs', 0, ErrorCodes.BAD_FRAME],
    ['task', 'seed', 1.25, ErrorCodes.BAD_FRAME],
    ['task', 'phase', 'd', ErrorCodes.BAD_FRAME],
    ['task', 'step', -1, ErrorCodes.BAD_FRAME],
    ['task', 'sub', 1000, ErrorCodes.BAD_FRAME],
    ['task', 'taskId', '', ErrorCodes.BAD_FRAME],
    ['task', 'topK', 0.5, ErrorCodes.BAD_FRAME], // the sample is a D task: only G tasks carry a top-k share
    ['result', 'stats.loss', NaN, ErrorCodes.NON_FINITE],
    ['result', 'stats.dFake', -Infinity, ErrorCodes.NON_FINITE],
    ['result', 'stats.loss', 'NaN', ErrorCodes.BAD_FRAME],
    ['result', 'stats.samples', -1, ErrorCodes.BAD_FRAME],
    ['result', 'stats.computeMs', -0.5, ErrorCodes.BAD_FRAME],
    ['result', 'grads', 'nope', ErrorCodes.BAD_FRAME],
    ['ack', 'status', 'ok', ErrorCodes.BAD_FRAME],
    ['ack', 'code', 'nope', ErrorCodes.BAD_FRAME],
    ['error', 'code', 'DUEL_ERR_lower', ErrorCodes.BAD_FRAME],
    ['error', 'message', 'x'.repeat(1025), ErrorCodes.BAD_FRAME],
    ['error', 'fatal', 1, ErrorCodes.BAD_FRAME],
    ['error', 'retryAfterMs', -5, ErrorCodes.BAD_FRAME],
    ['ping', 'ts', Infinity, ErrorCodes.BAD_FRAME],
    ['pong', 'echo', 'then', ErrorCodes.BAD_FRAME],
    ['bye', 'reason', 42, ErrorCodes.BAD_FRAME],
    ['wait', 'reconnect', 'yes', ErrorCodes.BAD_FRAME],
    ['wait', 'reason', 'bored', ErrorCodes.BAD_FRAME],
  ];

  it.each(cases)('%s.%s = %s → %s', (t, path, value, code) => {
    expect(codeOf(() => validateFrame(withField(sample(t), path, value), ctx))).toBe(code);
  });

  it('accepts a G task with a top-k share in (0, 1] and refuses one outside it', () => {
    const g = { ...sample('task'), phase: 'G' } as Frame;
    expect(validateFrame(withField(g, 'topK', 0.5), ctx)).toMatchObject({ phase: 'G', topK: 0.5 });
    expect(validateFrame(withField(g, 'topK', 1), ctx)).toMatchObject({ topK: 1 });
    for (const bad of [0, -0.1, 1.01, Number.NaN, '0.5']) expect(codeOf(() => validateFrame(withField(g, 'topK', bad), ctx))).toBe(ErrorCodes.BAD_FRAME);
  });

  it('accepts every sample frame and returns a fresh object', () => {
    for (const f of sampleFrames()) {
      const out = validateFrame(f, ctx);
      expect(out).toEqual(f);
      expect(out).not.toBe(f);
    }
  });

  it('drops unknown fields instead of passing them on', () => {
    const raw = { ...sample('hello'), admin: true, capabilities: { ...sample('hello').capabilities, root: 1 } };
    const out = validateFrame(raw) as HelloFrame & { admin?: boolean };
    expect(out.admin).toBeUndefined();
    expect(Object.keys(out.capabilities)).toEqual(['backend', 'device', 'maxBatch', 'codecs']);
  });

  it('keeps resume tokens (128 base64url characters at most) and accepts a resume without one, for older workers', () => {
    const token = 'A-_z'.repeat(32);
    const hello = validateFrame(withField(sample('hello'), 'resume.token', token)) as HelloFrame;
    expect(hello.resume).toEqual({ workerId: 'w-7', token });
    const old = validateFrame(withField(sample('hello'), 'resume', { workerId: 'w-7', extra: 1 })) as HelloFrame;
    expect(old.resume).toEqual({ workerId: 'w-7' });
    const welcome = validateFrame(withField(sample('welcome'), 'resumeToken', token)) as WelcomeFrame;
    expect(welcome.resumeToken).toBe(token);
    const { resumeToken: _, ...older } = sample('welcome');
    expect((validateFrame(older) as WelcomeFrame).resumeToken).toBeUndefined();
  });

  it('never echoes a refused token in the error message', () => {
    const secret = 'Secret-Token-Value!';
    for (const raw of [withField(sample('hello'), 'resume.token', secret), withField(sample('welcome'), 'resumeToken', secret)]) {
      try {
        validateFrame(raw);
        expect.unreachable();
      } catch (e) {
        expect((e as DuelError).code).toBe(ErrorCodes.BAD_FRAME);
        expect((e as Error).message).not.toContain(secret);
      }
    }
  });

  it('rejects unknown and missing frame types', () => {
    expect(codeOf(() => validateFrame({ t: 'launch' }))).toBe(ErrorCodes.UNKNOWN_FRAME);
    expect(codeOf(() => validateFrame({ t: 'constructor' }))).toBe(ErrorCodes.UNKNOWN_FRAME);
    expect(codeOf(() => validateFrame({ t: 'toString' }))).toBe(ErrorCodes.UNKNOWN_FRAME);
    expect(codeOf(() => validateFrame({ type: 'ping' }))).toBe(ErrorCodes.BAD_FRAME);
    expect(codeOf(() => validateFrame(null))).toBe(ErrorCodes.BAD_FRAME);
    expect(codeOf(() => validateFrame([{ t: 'ping', ts: 1 }]))).toBe(ErrorCodes.BAD_FRAME);
    expect(codeOf(() => validateFrame(new (class P { t = 'ping'; ts = 1 })()))).toBe(ErrorCodes.BAD_FRAME);
  });

  it('refuses frames from the wrong side', () => {
    expect(codeOf(() => validateFrame(sample('task'), { from: 'worker' }))).toBe(ErrorCodes.BAD_FRAME);
    expect(codeOf(() => validateFrame(sample('hello'), { from: 'coordinator' }))).toBe(ErrorCodes.BAD_FRAME);
    expect(codeOf(() => validateFrame(sample('ping'), { from: 'worker' }))).toBe('OK');
  });
});

describe('validateFrame: tensors', () => {
  it('checks names, order and shapes against the layout', () => {
    const r = sample('result');
    const renamed = { ...r, grads: r.grads.map((g, i) => (i === 0 ? { ...g, name: 'D/other' } : g)) };
    const reordered = { ...r, grads: [...r.grads].reverse() };
    const reshaped = { ...r, grads: r.grads.map((g, i) => (i === 0 ? { ...g, shape: [5, 2] } : g)) };
    const wrongNet = { ...sample('result', 1), phase: 'D' };
    for (const bad of [renamed, reordered, reshaped, wrongNet]) {
      expect(codeOf(() => validateFrame(bad, ctx))).toBe(ErrorCodes.SHAPE_MISMATCH);
    }
    // Without a layout only self-consistency is checked.
    expect(codeOf(() => validateFrame(renamed))).toBe('OK');
    const short = { ...r, grads: [{ ...r.grads[0], data: new Float32Array(3) }, r.grads[1]] };
    expect(codeOf(() => validateFrame(short))).toBe(ErrorCodes.SHAPE_MISMATCH);
  });

  it('refuses NaN and Infinity unless told not to check', () => {
    for (const v of [NaN, Infinity, -Infinity]) {
      const r = structuredClone(sample('result'));
      r.grads[1].data[2] = v;
      expect(codeOf(() => decodeFrame(encodeFrame(r), ctx))).toBe(ErrorCodes.NON_FINITE);
      expect(codeOf(() => decodeFrame(encodeFrame(r), { ...ctx, checkFinite: false }))).toBe('OK');
    }
    // A diverged worker's NaN loss is NON_FINITE on the wire too, not a malformed frame.
    const r = structuredClone(sample('result'));
    r.stats.loss = NaN;
    expect(codeOf(() => decodeFrame(encodeFrame(r), ctx))).toBe(ErrorCodes.NON_FINITE);
    const ping = encodeRaw({ t: 'ping', ts: NaN });
    expect(codeOf(() => decodeFrame(ping))).toBe(ErrorCodes.BAD_FRAME);
    const w = structuredClone(sample('weights'));
    w.tensors[0].data[0] = NaN;
    expect(codeOf(() => validateFrame(w, ctx))).toBe(ErrorCodes.NON_FINITE);
  });

  it('remembers checked tensors as finite (so the strategy skips its pass), but not unchecked ones', () => {
    const bytes = encodeFrame(sample('result'));
    const checked = decodeFrame(bytes, ctx) as ResultFrame;
    expect(wasFoundFinite(checked.grads)).toBe(true);
    const unchecked = decodeFrame(bytes.slice(), { ...ctx, checkFinite: false }) as ResultFrame;
    expect(wasFoundFinite(unchecked.grads)).toBe(false);
  });

  it('refuses non-float32 tensors in v1 frames', () => {
    const r = sample('result');
    const ints = { ...r, grads: r.grads.map((g) => ({ ...g, data: new Int32Array(g.data.length) })) };
    expect(codeOf(() => decodeFrame(encodeFrame(ints as unknown as ResultFrame), ctx))).toBe(ErrorCodes.BAD_FRAME);
  });
});

describe('decodeFrame: envelope', () => {
  const ping = encodeFrame({ t: 'ping', ts: 1 });
  const weights = encodeFrame(sample('weights'));

  function mutate(bytes: Uint8Array, fn: (b: Uint8Array, v: DataView) => void): Uint8Array {
    const b = bytes.slice();
    fn(b, new DataView(b.buffer));
    return b;
  }

  const cases: [string, () => unknown, string][] = [
    ['bad magic', () => decodeFrame(mutate(ping, (b) => (b[0] = 0x7b))), ErrorCodes.BAD_FRAME],
    ['other version', () => decodeFrame(mutate(ping, (b) => (b[2] = 2))), ErrorCodes.PROTOCOL_VERSION],
    ['unknown flag', () => decodeFrame(mutate(ping, (b) => (b[3] = 0x80))), ErrorCodes.BAD_FRAME],
    ['7 bytes', () => decodeFrame(ping.subarray(0, 7)), ErrorCodes.BAD_FRAME],
    ['empty', () => decodeFrame(new Uint8Array(0)), ErrorCodes.BAD_FRAME],
    ['truncated header', () => decodeFrame(ping.subarray(0, ping.length - 1)), ErrorCodes.BAD_FRAME],
    ['huge headerLen', () => decodeFrame(mutate(ping, (_, v) => v.setUint32(4, 0xffffffff, true))), ErrorCodes.BAD_FRAME],
    ['zero headerLen', () => decodeFrame(mutate(ping, (_, v) => v.setUint32(4, 0, true)).subarray(0, 8)), ErrorCodes.BAD_FRAME],
    ['trailing bytes', () => decodeFrame(new Uint8Array([...ping, 0])), ErrorCodes.BAD_FRAME],
    ['truncated tensors', () => decodeFrame(weights.subarray(0, weights.length - 8), ctx), ErrorCodes.BAD_FRAME],
    ['tensor bytes appended', () => decodeFrame(new Uint8Array([...weights, ...new Uint8Array(8)]), ctx), ErrorCodes.BAD_FRAME],
    ['tensor frame without flag', () => decodeFrame(mutate(weights, (b) => (b[3] = 0)), ctx), ErrorCodes.BAD_FRAME],
    ['ping with tensor flag', () => decodeFrame(mutate(ping, (b) => (b[3] = 1))), ErrorCodes.BAD_FRAME],
    ['header not msgpack', () => decodeFrame(encodeRaw(undefined).fill(0xc1, 8)), ErrorCodes.BAD_FRAME],
    ['header an array', () => decodeFrame(encodeRaw(['ping', 1])), ErrorCodes.BAD_FRAME],
    ['header a number', () => decodeFrame(encodeRaw(7)), ErrorCodes.BAD_FRAME],
    ['not bytes', () => decodeFrame('ping' as unknown as Uint8Array), ErrorCodes.BAD_FRAME],
    ['unknown t on the wire', () => decodeFrame(encodeRaw({ t: 'launch', tensors: [] })), ErrorCodes.UNKNOWN_FRAME],
    ['descriptors past the end', () =>
      decodeFrame(encodeRaw({ t: 'weights', net: 'G', version: 0, tensors: [{ name: 'a', shape: [2 ** 20], dtype: 'float32', offset: 0, length: 2 ** 22 }] }, { section: new Uint8Array(8) })),
      ErrorCodes.BAD_FRAME],
  ];

  it.each(cases)('%s', (_, fn, code) => {
    expect(codeOf(fn)).toBe(code);
  });

  it('enforces maxFrameBytes and maxHeaderBytes', () => {
    expect(codeOf(() => decodeFrame(weights, { ...ctx, limits: { maxFrameBytes: weights.length } }))).toBe('OK');
    expect(codeOf(() => decodeFrame(weights, { ...ctx, limits: { maxFrameBytes: weights.length - 1 } }))).toBe(ErrorCodes.FRAME_TOO_LARGE);
    const welcome = encodeFrame(sample('welcome'));
    const headerLen = new DataView(welcome.buffer).getUint32(4, true);
    expect(codeOf(() => decodeFrame(welcome, { limits: { maxHeaderBytes: headerLen - 1 } }))).toBe(ErrorCodes.FRAME_TOO_LARGE);
    expect(DEFAULT_LIMITS.maxFrameBytes).toBeGreaterThan(weights.length);
  });
});

describe('prototype pollution', () => {
  const keys = ['__proto__', 'constructor', 'prototype'];

  it.each(keys)('refuses %s anywhere in a header and leaves Object.prototype alone', (key) => {
    const welcome = sample('welcome') as WelcomeFrame;
    const evilModel = new Map<string, unknown>([['kind', 'mlp'], ['nested', new Map([[key, { polluted: 'yes' }]])]]);
    const nested = encodeRaw({ ...welcome, run: { ...welcome.run, model: evilModel } });
    expect(codeOf(() => decodeFrame(nested))).toBe(ErrorCodes.BAD_FRAME);
    const top = encodeRaw(new Map<string, unknown>([['t', 'ping'], ['ts', 1], [key, { polluted: 'yes' }]]));
    expect(codeOf(() => decodeFrame(top))).toBe(ErrorCodes.BAD_FRAME);
    // In-memory frames (e.g. from postMessage or JSON.parse) get the same check.
    const parsed = JSON.parse(`{"t":"welcome","workerId":"w","heartbeatMs":1000,"versions":{"g":0,"d":0},"run":{"id":"r","dataset":"ring8","seed":1,"loss":"ns","k":1,"batchSize":8,"mode":"sync","staleness":0,"model":{"${key}":{"polluted":"yes"}}}}`);
    expect(codeOf(() => validateFrame(parsed))).toBe(ErrorCodes.BAD_FRAME);
    expect((({}) as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('the model spec comes back as ordinary objects', () => {
    const out = decodeFrame(encodeFrame(sample('welcome'))) as WelcomeFrame;
    expect(Object.getPrototypeOf(out.run.model)).toBe(Object.prototype);
    expect(out.run.model).toEqual(sample('welcome').run.model);
  });
});
