import { allFiniteRemembered, assertLayout, DuelError, ErrorCodes, sizeOf, type ErrorCode, type NamedWeights, type TensorSpec } from '@duel/util';
import { FieldReader } from './field-reader';
import {
  FRAME_SENDERS,
  isFrameType,
  PROTOCOL_VERSION,
  type Frame,
  type FrameMap,
  type FrameType,
  type JsonObject,
  type Net,
  type Role,
  type Versions,
} from './frames';
import { resolveLimits, type ProtocolLimits } from './limits';
import { isPlainObject, toPlainJson } from './plain-json';
import { readShape } from './tensor-section';
import { CODEC_NAMES, MAX_TOPK_RATIO, type CodecSpec } from './codecs/codec-spec';

/** Tensor layout of a run, per net, in canonical order (from libs/gan's model spec). */
export interface Layout {
  G: readonly TensorSpec[];
  D: readonly TensorSpec[];
}

export interface ValidationContext {
  /** When set, weights and result tensors must match it exactly (names, order, shapes). */
  layout?: Layout;
  limits?: Partial<ProtocolLimits>;
  /** The sender's role; frames that role may not send are refused (BAD_FRAME). */
  from?: Role;
  /** Default true: NaN or ±Infinity in a tensor is NON_FINITE. */
  checkFinite?: boolean;
}

/** Printable ASCII without spaces: ids appear in logs, metrics labels and URLs. */
const ID_PATTERN = /^[\x21-\x7e]+$/;
const CODE_PATTERN = /^DUEL_ERR_[A-Z0-9_]+$/;
/** welcome.resumeToken, hello.resume.token: base64url (an HMAC-SHA256 is 43 characters; room for a longer MAC later). */
const RESUME_TOKEN_PATTERN = /^[A-Za-z0-9_-]+$/;
const MAX_RESUME_TOKEN = 128;
const U32_MAX = 0xffffffff;
const DAY_MS = 86_400_000;
const MAX_BATCH = 1 << 20;
const MAX_SHARDS = 1 << 20;
/** D steps per G step; Goodfellow et al. used k = 1, WGAN uses 5. */
const MAX_K = 1000;

interface Ctx {
  limits: ProtocolLimits;
  layout?: Layout;
  checkFinite: boolean;
}

const id = (f: FieldReader, key: string, c: Ctx): string => f.str(key, c.limits.maxIdLength, { pattern: ID_PATTERN });
const version = (f: FieldReader, key: string): number => f.int(key, 0, Number.MAX_SAFE_INTEGER);
const seed = (f: FieldReader, key: string): number => f.int(key, 0, U32_MAX);

function versions(f: FieldReader, key: string): Versions {
  const v = f.obj(key);
  return { g: version(v, 'g'), d: version(v, 'd') };
}

/** A statistic: non-finite means the worker diverged (NON_FINITE, the connection stays), not a malformed frame. */
function stat(f: FieldReader, key: string, min?: number): number {
  const v = f.raw(key);
  if (typeof v === 'number' && !Number.isFinite(v)) throw new DuelError(ErrorCodes.NON_FINITE, `${f.path}.${key} is ${v}`);
  return f.num(key, min);
}

/** welcome.codec: a known name; topk may carry a ratio in (0, 0.5]. */
function codecSpec(f: FieldReader): CodecSpec {
  const name = f.oneOf('name', CODEC_NAMES);
  const spec: CodecSpec = { name };
  if (f.has('ratio')) {
    if (name !== 'topk') throw f.fail('ratio', 'only topk takes a ratio');
    spec.ratio = f.num('ratio', Number.MIN_VALUE, MAX_TOPK_RATIO);
  }
  return spec;
}

const resumeToken = (f: FieldReader, key: string): string => f.str(key, MAX_RESUME_TOKEN, { pattern: RESUME_TOKEN_PATTERN });

function errorCode(f: FieldReader, key: string): ErrorCode {
  return f.str(key, 64, { pattern: CODE_PATTERN }) as ErrorCode;
}

/** Float32 tensors in the canonical order of `net`; layout and finiteness per the context. */
function tensors(f: FieldReader, key: string, net: Net, c: Ctx): NamedWeights {
  const list = f.arr(key, c.limits.maxTensors).map((item, i) => {
    const t = FieldReader.of(item, `${f.path}.${key}[${i}]`);
    const name = t.str('name', c.limits.maxNameLength);
    const shape = readShape(t, c.limits);
    const data = t.raw('data');
    if (!(data instanceof Float32Array)) throw t.fail('data', 'protocol v1 carries float32 tensors only');
    if (data.length !== sizeOf(shape)) {
      throw new DuelError(ErrorCodes.SHAPE_MISMATCH, `${name}: ${data.length} values for shape [${shape}]`);
    }
    return { name, shape, data };
  });
  if (c.layout) assertLayout(list, c.layout[net], `${f.path}.${key} (${net})`);
  // Remembered, so the strategy's screening does not read the values a second time.
  if (c.checkFinite && !allFiniteRemembered(list)) throw new DuelError(ErrorCodes.NON_FINITE, `${f.path}.${key}: NaN or Infinity in ${net} tensors`);
  return list;
}

const VALIDATORS: { [T in FrameType]: (f: FieldReader, c: Ctx) => FrameMap[T] } = {
  hello: (f, c) => {
    // Checked first: a peer of another version may lay out the rest differently.
    const protocol = f.raw('protocol');
    if (protocol !== PROTOCOL_VERSION) {
      throw new DuelError(ErrorCodes.PROTOCOL_VERSION, `expected protocol ${PROTOCOL_VERSION}, got ${String(protocol).slice(0, 16)}`);
    }
    const cap = f.obj('capabilities');
    const capabilities: FrameMap['hello']['capabilities'] = {
      backend: cap.str('backend', c.limits.maxNameLength),
      device: cap.str('device', c.limits.maxTextLength, { allowEmpty: true }),
      maxBatch: cap.int('maxBatch', 1, MAX_BATCH),
    };
    if (cap.has('codecs')) {
      capabilities.codecs = cap.arr('codecs', c.limits.maxCodecs).map((v, i) => {
        if (typeof v !== 'string' || v.length === 0 || v.length > c.limits.maxNameLength) {
          throw cap.fail(`codecs[${i}]`, `expected a string of 1..${c.limits.maxNameLength} characters`);
        }
        return v;
      });
    }
    const frame: FrameMap['hello'] = { t: 'hello', protocol: PROTOCOL_VERSION, kind: f.oneOf('kind', ['node', 'volunteer'] as const), capabilities };
    if (f.has('token')) frame.token = f.str('token', c.limits.maxTokenLength);
    if (f.has('resume')) {
      const r = f.obj('resume');
      frame.resume = { workerId: id(r, 'workerId', c) };
      // Optional here so an older worker still gets in; the coordinator refuses a resume without it.
      if (r.has('token')) frame.resume.token = resumeToken(r, 'token');
    }
    return frame;
  },
  welcome: (f, c) => {
    const r = f.obj('run');
    const model = toPlainJson(r.raw('model'), c.limits, `${r.path}.model`);
    if (!isPlainObject(model)) throw r.fail('model', 'expected an object');
    const frame: FrameMap['welcome'] = {
      t: 'welcome',
      workerId: id(f, 'workerId', c),
      run: {
        id: id(r, 'id', c),
        dataset: r.str('dataset', c.limits.maxNameLength),
        seed: seed(r, 'seed'),
        model: model as JsonObject,
        loss: r.str('loss', c.limits.maxNameLength),
        k: r.int('k', 1, MAX_K),
        batchSize: r.int('batchSize', 1, MAX_BATCH),
        mode: r.oneOf('mode', ['sync', 'async'] as const),
        staleness: r.int('staleness', 0, 1_000_000),
      },
      heartbeatMs: f.int('heartbeatMs', 100, 600_000),
      versions: versions(f, 'versions'),
    };
    if (f.has('codec')) frame.codec = codecSpec(f.obj('codec'));
    if (f.has('resumeToken')) frame.resumeToken = resumeToken(f, 'resumeToken');
    return frame;
  },
  weights: (f, c) => {
    const net = f.oneOf('net', ['G', 'D'] as const);
    return { t: 'weights', net, version: version(f, 'version'), tensors: tensors(f, 'tensors', net, c) };
  },
  task: (f, c) => {
    const s = f.obj('shard');
    const count = s.int('count', 1, MAX_SHARDS);
    const frame: FrameMap['task'] = {
      t: 'task',
      taskId: id(f, 'taskId', c),
      phase: f.oneOf('phase', ['D', 'G'] as const),
      versions: versions(f, 'versions'),
      step: f.int('step', 0, Number.MAX_SAFE_INTEGER),
      sub: f.int('sub', 0, MAX_K - 1),
      shard: { index: s.int('index', 0, count - 1), count },
      batchSize: f.int('batchSize', 1, MAX_BATCH),
      seed: seed(f, 'seed'),
      deadlineMs: f.int('deadlineMs', 1, DAY_MS),
    };
    if (f.has('topK')) {
      if (frame.phase !== 'G') throw f.fail('topK', 'only a G task has a top-k share');
      frame.topK = f.num('topK', Number.MIN_VALUE, 1);
    }
    return frame;
  },
  result: (f, c) => {
    const phase = f.oneOf('phase', ['D', 'G'] as const);
    const s = f.obj('stats');
    const frame: FrameMap['result'] = {
      t: 'result',
      taskId: id(f, 'taskId', c),
      workerId: id(f, 'workerId', c),
      phase,
      versions: versions(f, 'versions'),
      grads: tensors(f, 'grads', phase, c),
      stats: {
        loss: stat(s, 'loss'),
        dReal: stat(s, 'dReal'),
        dFake: stat(s, 'dFake'),
        samples: s.int('samples', 0, Number.MAX_SAFE_INTEGER),
        computeMs: stat(s, 'computeMs', 0),
      },
    };
    if (f.has('codec')) frame.codec = f.oneOf('codec', CODEC_NAMES);
    return frame;
  },
  ack: (f, c) => {
    const frame: FrameMap['ack'] = { t: 'ack', taskId: id(f, 'taskId', c), status: f.oneOf('status', ['applied', 'duplicate', 'rejected'] as const) };
    if (f.has('code')) frame.code = errorCode(f, 'code');
    return frame;
  },
  error: (f, c) => {
    const frame: FrameMap['error'] = { t: 'error', code: errorCode(f, 'code'), message: f.str('message', c.limits.maxTextLength, { allowEmpty: true }) };
    if (f.has('fatal')) frame.fatal = f.bool('fatal');
    if (f.has('retryAfterMs')) frame.retryAfterMs = f.int('retryAfterMs', 0, DAY_MS);
    return frame;
  },
  ping: (f) => ({ t: 'ping', ts: f.num('ts', 0) }),
  pong: (f) => ({ t: 'pong', ts: f.num('ts', 0), echo: f.num('echo', 0) }),
  bye: (f, c) => ({ t: 'bye', reason: f.str('reason', c.limits.maxTextLength, { allowEmpty: true }) }),
  wait: (f) => ({
    t: 'wait',
    reason: f.oneOf('reason', ['no_work', 'shutting_down', 'paused'] as const),
    retryAfterMs: f.int('retryAfterMs', 0, DAY_MS),
    reconnect: f.bool('reconnect'),
  }),
};

/**
 * Checks an untrusted frame object (decoded header with tensors attached, or an
 * in-memory frame from postMessage) against the schema and returns a fresh
 * frame holding only known fields. Tensor data is kept by reference, not copied.
 * Throws only DuelError: BAD_FRAME, UNKNOWN_FRAME, PROTOCOL_VERSION,
 * SHAPE_MISMATCH or NON_FINITE.
 */
export function validateFrame(raw: unknown, ctx: ValidationContext = {}): Frame {
  const f = FieldReader.of(raw, 'frame');
  const t = f.raw('t');
  if (typeof t !== 'string') throw f.fail('t', 'expected the frame type');
  if (!isFrameType(t)) throw new DuelError(ErrorCodes.UNKNOWN_FRAME, `unknown frame type ${JSON.stringify(t.slice(0, 32))}`);
  if (ctx.from && !(FRAME_SENDERS[t] as readonly Role[]).includes(ctx.from)) {
    throw new DuelError(ErrorCodes.BAD_FRAME, `a ${ctx.from} may not send '${t}'`);
  }
  const c: Ctx = { limits: resolveLimits(ctx.limits), layout: ctx.layout, checkFinite: ctx.checkFinite ?? true };
  return VALIDATORS[t](FieldReader.of(raw, t), c);
}
