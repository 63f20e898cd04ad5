import { DuelError, ErrorCodes, isDuelError, type NamedWeights } from '@duel/util';
import { Packr, Unpackr, type Options } from 'msgpackr';
import { checkDescriptorsForCodec, decodeTensors } from './codecs/coded-tensors';
import { isCodecName, type CodecName } from './codecs/codec-spec';
import { isFrameType, PROTOCOL_VERSION, type Frame, type FrameType, type Net, type ResultFrame, type WeightsFrame } from './frames';
import { resolveLimits } from './limits';
import { isPlainObject, toPlainJson } from './plain-json';
import { alignUp, parseDescriptors, planSection, readSection, writeSection, type TensorDescriptor, type WireTensor } from './tensor-section';
import { validateFrame, type ValidationContext } from './validate';

/**
 * Frame layout (all integers little-endian):
 *
 *   0  'D' 'U'            magic, 0x44 0x55
 *   2  u8  version        PROTOCOL_VERSION
 *   3  u8  flags          bit 0: a tensor section follows; other bits 0
 *   4  u32 headerLen      bytes of the msgpack header
 *   8  header             msgpack map: the frame, tensors replaced by descriptors
 *      pad to 8           zeros
 *   S  tensor section     each tensor at S + offset, offset % 8 == 0, zero-padded to 8
 *
 * A frame without tensors ends right after its header.
 */
export const FRAME_MAGIC = [0x44, 0x55] as const;
export const FRAME_PREFIX_BYTES = 8;
export const FLAG_TENSORS = 0x01;

/** The field of each frame type that holds tensors; they travel in the raw section, not in msgpack. */
export const TENSOR_FIELDS: Readonly<Partial<Record<FrameType, 'tensors' | 'grads'>>> = Object.freeze({ weights: 'tensors', result: 'grads' });

// No records (other decoders could not read them), no typed-array extensions
// (SYSTEM.md: default pack() corrupts them), undefined fields omitted.
// `skipValues` and int64AsType 'auto' exist in msgpackr 2.1.3 but not in its typings.
const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true, skipValues: [undefined] } as Options);
// Maps decode as Map so keys are ours to check (plain-json.ts); int64 that fit in 2^53 become numbers.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, int64AsType: 'auto' } as unknown as Options);

/** A frame to encode: any frame, or a result whose gradients are already coded (codecs/, §3.4). */
export type EncodableFrame = Frame | (Omit<ResultFrame, 'grads'> & { grads: WireTensor[] });

export interface EncodedHeader {
  /** msgpack bytes of the frame with its tensors replaced by descriptors. */
  header: Uint8Array;
  /** Present for frame types that carry tensors. */
  tensors?: WireTensor[];
  descriptors?: TensorDescriptor[];
  /** Bytes of the tensor section, padding included. */
  sectionBytes: number;
}

export function encodeHeader(frame: EncodableFrame): EncodedHeader {
  const key = TENSOR_FIELDS[frame.t];
  if (!key) return { header: copyOut(packr.pack(frame)), sectionBytes: 0 };
  const tensors = (frame as unknown as Record<string, WireTensor[]>)[key] ?? [];
  const { descriptors, sectionBytes } = planSection(tensors);
  const header = copyOut(packr.pack({ ...frame, [key]: descriptors }));
  return { header, tensors, descriptors, sectionBytes };
}

// packr.pack returns a view into a buffer it reuses on the next call.
function copyOut(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

/** msgpack bytes of any header object, as encodeFrame would write them (used to size frames). */
export function packHeader(value: object): Uint8Array {
  return copyOut(packr.pack(value));
}

/**
 * Encodes a frame into one fresh, 8-aligned buffer. Tensors are copied once,
 * byte for byte (NaN payloads, -0 and denormals survive). Does not validate
 * the frame beyond tensor sizes (SHAPE_MISMATCH); the receiver does.
 */
export function encodeFrame(frame: EncodableFrame): Uint8Array {
  return encodeFrameInto(frame, null);
}

/**
 * {@link encodeFrame}, written into `reuse` when it has exactly the frame's
 * size (a weights broadcast of the same net and layout always has), else into
 * a fresh buffer. Every byte of `reuse` is rewritten, padding included, so
 * the result equals encodeFrame's byte for byte. Returns the buffer written.
 */
export function encodeFrameInto(frame: EncodableFrame, reuse: Uint8Array | null): Uint8Array {
  const plan = planFrame(frame);
  const out = reuse && reuse.byteLength === plan.size && reuse.byteOffset === 0 ? reuse : new Uint8Array(plan.size);
  writeFrame(out, plan, out === reuse);
  return out;
}

interface FramePlan extends EncodedHeader {
  headerEnd: number;
  sectionStart: number;
  size: number;
}

function planFrame(frame: EncodableFrame): FramePlan {
  const enc = encodeHeader(frame);
  const headerEnd = FRAME_PREFIX_BYTES + enc.header.length;
  const sectionStart = enc.tensors ? alignUp(headerEnd) : headerEnd;
  return { ...enc, headerEnd, sectionStart, size: sectionStart + enc.sectionBytes };
}

/** Writes a planned frame into out[0, plan.size); `dirty`: out held other bytes, so its padding is zeroed. */
function writeFrame(out: Uint8Array, plan: FramePlan, dirty: boolean): void {
  const { header, tensors, descriptors, headerEnd, sectionStart } = plan;
  if (dirty) zeroPadding(out, headerEnd, sectionStart, plan.size, descriptors ?? []);
  out[0] = FRAME_MAGIC[0];
  out[1] = FRAME_MAGIC[1];
  out[2] = PROTOCOL_VERSION;
  out[3] = tensors ? FLAG_TENSORS : 0;
  new DataView(out.buffer, out.byteOffset).setUint32(4, header.length, true);
  out.set(header, FRAME_PREFIX_BYTES);
  if (tensors && descriptors) writeSection(out, sectionStart, tensors, descriptors);
}

/**
 * Encodes tensor-carrying frames into recycled buffers, for a sender whose
 * frames keep the same layout (a worker's D and G results). A frame's bytes
 * are a view at offset 0 of a pooled buffer that is at most SLACK larger, so
 * the header may vary by a few bytes (task ids, stats) and still fit; call
 * `release` once the transport no longer needs them (ws's write callback).
 * An unreleased buffer is simply never reused. The bytes equal encodeFrame's.
 */
export class FramePool {
  private static readonly SLACK = 4096;
  private readonly free: Uint8Array[] = [];

  constructor(private readonly maxFree = 4) {}

  encode(frame: EncodableFrame): { bytes: Uint8Array; release: () => void } {
    const plan = planFrame(frame);
    const i = this.free.findIndex((b) => b.byteLength >= plan.size && b.byteLength <= plan.size + FramePool.SLACK);
    const buf = i >= 0 ? this.free.splice(i, 1)[0] : new Uint8Array(plan.size + FramePool.SLACK);
    const bytes = buf.subarray(0, plan.size);
    writeFrame(bytes, plan, i >= 0);
    let done = false;
    const release = () => {
      if (done) return;
      done = true;
      if (this.free.length >= this.maxFree) this.free.shift();
      this.free.push(buf);
    };
    return { bytes, release };
  }

  /** Buffers waiting for reuse (for tests). */
  get idle(): number {
    return this.free.length;
  }
}

/** Zeroes the bytes a frame leaves as padding: after the header, and after each tensor up to the next (or the end). */
function zeroPadding(out: Uint8Array, headerEnd: number, sectionStart: number, size: number, descriptors: readonly TensorDescriptor[]): void {
  out.fill(0, headerEnd, sectionStart);
  descriptors.forEach((d, i) => {
    const next = i + 1 < descriptors.length ? descriptors[i + 1].offset : size - sectionStart;
    out.fill(0, sectionStart + d.offset + d.length, sectionStart + next);
  });
}

/** One encoded weights broadcast: encode once, `ws.send(bytes)` to every worker. Never mutate `bytes`. */
export interface EncodedWeights {
  readonly net: Net;
  readonly version: number;
  readonly bytes: Uint8Array;
}

export function encodeWeightsOnce(net: Net, version: number, tensors: NamedWeights, reuse: Uint8Array | null = null): EncodedWeights {
  const frame: WeightsFrame = { t: 'weights', net, version, tensors };
  return Object.freeze({ net, version, bytes: encodeFrameInto(frame, reuse) });
}

/**
 * Who still reads an encoded buffer. A socket write holds it from `ws.send`
 * to the write's callback (Node keeps a reference to the bytes until the
 * kernel has them); anything that keeps it for later (a parked or slow
 * socket's pending weights) pins it for good, and it is left to the GC.
 * Only a buffer with no writes in flight and no pin may be written again.
 */
export class BufferLeases {
  private readonly inFlight = new WeakMap<Uint8Array, number>();
  private readonly pinned = new WeakSet<Uint8Array>();

  /** Marks one write of `bytes` in flight; call the returned function exactly once when it is done (or failed). */
  lease(bytes: Uint8Array): () => void {
    this.inFlight.set(bytes, (this.inFlight.get(bytes) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.inFlight.set(bytes, this.inFlight.get(bytes)! - 1);
    };
  }

  /** `bytes` is kept somewhere untracked: never reuse it. */
  pin(bytes: Uint8Array): void {
    this.pinned.add(bytes);
  }

  isPinned(bytes: Uint8Array): boolean {
    return this.pinned.has(bytes);
  }

  isFree(bytes: Uint8Array): boolean {
    return !this.pinned.has(bytes) && (this.inFlight.get(bytes) ?? 0) === 0;
  }
}

/**
 * Keeps the latest encoded weights per net, so a broadcast and every late
 * joiner's catch-up share one buffer per (net, version). A new version is
 * encoded into an older version's buffer once {@link BufferLeases} says no
 * one reads it any more: in steady state a broadcast allocates nothing and
 * writes into pages already mapped (two buffers per net alternate when the
 * sockets keep up), instead of a fresh MB-sized buffer per net and step.
 */
export class WeightsBroadcastCache {
  private readonly latest = new Map<Net, EncodedWeights>();
  /** Earlier buffers per net, newest last, waiting for their writes to finish. */
  private readonly retired = new Map<Net, Uint8Array[]>();

  constructor(readonly leases = new BufferLeases()) {}

  get(net: Net, version: number, tensors: () => NamedWeights): EncodedWeights {
    const hit = this.latest.get(net);
    if (hit && hit.version === version) return hit;
    // A pinned buffer is never free again: drop it rather than let it hold a slot.
    const old = (this.retired.get(net) ?? []).filter((b) => !this.leases.isPinned(b));
    const i = old.findIndex((b) => this.leases.isFree(b));
    const reuse = i >= 0 ? old.splice(i, 1)[0] : null;
    const enc = encodeWeightsOnce(net, version, tensors(), reuse);
    if (hit) old.push(hit.bytes);
    // A buffer still in flight after two newer versions is left to the GC.
    if (old.length > MAX_RETIRED) old.shift();
    this.retired.set(net, old);
    this.latest.set(net, enc);
    return enc;
  }

  clear(): void {
    this.latest.clear();
    this.retired.clear();
  }
}

const MAX_RETIRED = 2;

export interface DecodedFrame {
  frame: Frame;
  byteLength: number;
  headerBytes: number;
  /** Tensors copied because their bytes were not aligned in the input (0 = all zero-copy views). */
  copiedTensors: number;
}

function bad(message: string): DuelError {
  return new DuelError(ErrorCodes.BAD_FRAME, message);
}

function unpackHeader(bytes: Uint8Array): unknown {
  try {
    return unpackr.unpack(bytes);
  } catch (e) {
    // msgpackr throws plain Errors (and RangeError on absurd nesting).
    throw bad(`header is not valid msgpack: ${e instanceof Error ? e.message.slice(0, 120) : 'unknown'}`);
  }
}

function decodeUnchecked(input: Uint8Array | ArrayBuffer, ctx: ValidationContext): DecodedFrame {
  const limits = resolveLimits(ctx.limits);
  if (!(input instanceof Uint8Array) && !(input instanceof ArrayBuffer)) throw bad('expected binary data');
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length > limits.maxFrameBytes) {
    throw new DuelError(ErrorCodes.FRAME_TOO_LARGE, `frame of ${bytes.length} bytes exceeds ${limits.maxFrameBytes}`);
  }
  if (bytes.length < FRAME_PREFIX_BYTES) throw bad(`truncated: ${bytes.length} bytes`);
  if (bytes[0] !== FRAME_MAGIC[0] || bytes[1] !== FRAME_MAGIC[1]) throw bad('bad magic');
  if (bytes[2] !== PROTOCOL_VERSION) {
    throw new DuelError(ErrorCodes.PROTOCOL_VERSION, `expected protocol ${PROTOCOL_VERSION}, got ${bytes[2]}`);
  }
  const flags = bytes[3];
  if ((flags & ~FLAG_TENSORS) !== 0) throw bad(`unknown flags 0x${flags.toString(16)}`);
  const headerLen = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  const headerEnd = FRAME_PREFIX_BYTES + headerLen;
  if (headerEnd > bytes.length) throw bad(`truncated: header of ${headerLen} bytes, ${bytes.length - FRAME_PREFIX_BYTES} present`);
  if (headerLen > limits.maxHeaderBytes) throw new DuelError(ErrorCodes.FRAME_TOO_LARGE, `header of ${headerLen} bytes exceeds ${limits.maxHeaderBytes}`);
  if (headerLen === 0) throw bad('empty header');

  const header = toPlainJson(unpackHeader(bytes.subarray(FRAME_PREFIX_BYTES, headerEnd)), limits, 'header', { allowNonFinite: true });
  if (!isPlainObject(header)) throw bad('header must be a map');
  const h = header as Record<string, unknown>;
  const t = h['t'];
  if (typeof t !== 'string') throw bad('header has no frame type t');
  if (!isFrameType(t)) throw new DuelError(ErrorCodes.UNKNOWN_FRAME, `unknown frame type ${JSON.stringify(t.slice(0, 32))}`);
  const field = TENSOR_FIELDS[t];
  let copiedTensors = 0;
  if (field !== undefined) {
    if (!(flags & FLAG_TENSORS)) throw bad('tensor frame without a tensor section');
    const codec = codecOf(t, h['codec']);
    const { descriptors, end } = parseDescriptors(h[field], limits, `${t}.${field}`);
    checkDescriptorsForCodec(codec, descriptors, `${t}.${field}`);
    const start = alignUp(headerEnd);
    const expected = start + alignUp(end);
    if (bytes.length !== expected) throw bad(`frame is ${bytes.length} bytes, its descriptors need ${expected}`);
    const read = readSection(bytes, start, descriptors);
    copiedTensors = read.copied;
    // fp32 tensors stay zero-copy views; coded ones are decoded into fresh float32 arrays.
    h[field] = codec === 'fp32' ? read.tensors : decodeTensors(codec, read.tensors);
  } else {
    if (flags & FLAG_TENSORS) throw bad('tensor section on a frame without tensors');
    if (bytes.length !== headerEnd) throw bad(`${bytes.length - headerEnd} trailing bytes`);
  }
  return { frame: validateFrame(header, ctx), byteLength: bytes.length, headerBytes: headerLen, copiedTensors };
}

/** The codec of a tensor frame's section: only results may be coded; absent means fp32. */
function codecOf(t: FrameType, raw: unknown): CodecName {
  if (raw === undefined || raw === null) return 'fp32';
  if (!isCodecName(raw)) throw bad(`${t}.codec: expected one of fp32|fp16|int8|topk`);
  if (t !== 'result' && raw !== 'fp32') throw bad(`${t}.codec: only results carry coded tensors`);
  return raw;
}

/**
 * Decodes and validates one frame (envelope, header schema, tensor bounds, and
 * with `ctx.layout` the tensor layout; finiteness unless `ctx.checkFinite` is
 * false). Tensors are zero-copy views into `input` when aligned. Throws only
 * DuelError; a bug of ours surfaces as INTERNAL, never as a crash.
 */
export function decodeFrameDetailed(input: Uint8Array | ArrayBuffer, ctx: ValidationContext = {}): DecodedFrame {
  try {
    return decodeUnchecked(input, ctx);
  } catch (e) {
    if (isDuelError(e)) throw e;
    throw new DuelError(ErrorCodes.INTERNAL, 'decoder failed', { cause: e instanceof Error ? e.message : String(e) });
  }
}

export function decodeFrame(input: Uint8Array | ArrayBuffer, ctx: ValidationContext = {}): Frame {
  return decodeFrameDetailed(input, ctx).frame;
}
