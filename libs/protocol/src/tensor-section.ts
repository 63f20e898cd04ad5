import { DuelError, ErrorCodes, sizeOf } from '@duel/util';
import { FieldReader } from './field-reader';
import type { ProtocolLimits } from './limits';

/**
 * The raw tensor section of a frame: every tensor's bytes, little-endian, each
 * starting at a multiple of 8 from the section start (which is itself 8-aligned
 * in the frame). msgpack `bin` values land at arbitrary offsets and msgpackr's
 * default `pack()` corrupts Float32Arrays (SYSTEM.md), so tensors never travel
 * inside msgpack: the header only describes them.
 */

export type DType = 'float32' | 'int32' | 'uint8' | 'int8' | 'float16';
/** float16 travels as its raw IEEE 754 binary16 bits in a Uint16Array. */
export type TensorData = Float32Array | Int32Array | Uint8Array | Int8Array | Uint16Array;

/**
 * One tensor as it travels. A coded gradient (codecs/, PROTOCOL.md §3.4) also
 * names its wire `dtype` when its bytes are not of the data's own type (topk's
 * index+value payload), the int8 `scale`, or the topk `nnz`.
 */
export interface WireTensor {
  name: string;
  shape: number[];
  data: TensorData;
  dtype?: DType;
  /** int8: x̂ = q·scale. */
  scale?: number;
  /** topk: entries sent; the payload is nnz u32 indices then nnz float32 values. */
  nnz?: number;
}

/** How the header describes one tensor; offset and length are bytes within the tensor section. */
export interface TensorDescriptor {
  name: string;
  shape: number[];
  dtype: DType;
  offset: number;
  length: number;
  scale?: number;
  nnz?: number;
}

type TypedCtor = { new (n: number): TensorData; new (b: ArrayBufferLike, off: number, n: number): TensorData };

const DTYPES: Readonly<Record<DType, { bytes: number; ctor: TypedCtor }>> = {
  float32: { bytes: 4, ctor: Float32Array as unknown as TypedCtor },
  int32: { bytes: 4, ctor: Int32Array as unknown as TypedCtor },
  uint8: { bytes: 1, ctor: Uint8Array as unknown as TypedCtor },
  int8: { bytes: 1, ctor: Int8Array as unknown as TypedCtor },
  float16: { bytes: 2, ctor: Uint16Array as unknown as TypedCtor },
};
export const DTYPE_NAMES = Object.keys(DTYPES) as DType[];

/** Alignment of every tensor: 8 covers float32/int32 today and float64 should it come. */
export const TENSOR_ALIGN = 8;

/** The wire is little-endian; on a big-endian host tensors are byte-swapped (and so copied). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function alignUp(n: number, a = TENSOR_ALIGN): number {
  return Math.ceil(n / a) * a;
}

export function bytesPerElement(dtype: DType): number {
  return DTYPES[dtype].bytes;
}

export function dtypeOf(data: TensorData): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint16Array) return 'float16';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int8Array) return 'int8';
  throw new DuelError(ErrorCodes.BAD_ARGUMENT, 'tensor data must be Float32Array, Int32Array, Uint8Array, Int8Array or Uint16Array');
}

/** Bytes a tensor's payload must have: 8 per topk entry, else elements × dtype width. */
export function payloadBytes(shape: readonly number[], dtype: DType, nnz?: number): number {
  return nnz !== undefined ? 8 * nnz : sizeOf(shape) * bytesPerElement(dtype);
}

/** Lays tensors out back to back, each 8-aligned. Throws SHAPE_MISMATCH when the data's size does not fit shape (and dtype, nnz). */
export function planSection(tensors: readonly WireTensor[]): { descriptors: TensorDescriptor[]; sectionBytes: number } {
  let offset = 0;
  const descriptors = tensors.map((t) => {
    const dtype = t.dtype ?? dtypeOf(t.data);
    if (t.data.byteLength !== payloadBytes(t.shape, dtype, t.nnz) || (t.nnz !== undefined && t.nnz > sizeOf(t.shape))) {
      throw new DuelError(ErrorCodes.SHAPE_MISMATCH, `${t.name}: ${t.data.byteLength} bytes for shape [${t.shape}] as ${dtype}${t.nnz !== undefined ? ` nnz ${t.nnz}` : ''}`);
    }
    const d: TensorDescriptor = { name: t.name, shape: [...t.shape], dtype, offset, length: t.data.byteLength, scale: t.scale, nnz: t.nnz };
    offset = alignUp(offset + d.length);
    return d;
  });
  return { descriptors, sectionBytes: offset };
}

function swapBytes(buf: Uint8Array, start: number, length: number, width: number): void {
  if (width === 1) return;
  for (let i = start; i < start + length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const x = buf[a];
      buf[a] = buf[b];
      buf[b] = x;
    }
  }
}

/** Copies every tensor's bytes into `out` at `start + offset` (byte copies, so NaN payloads survive). */
export function writeSection(
  out: Uint8Array,
  start: number,
  tensors: readonly WireTensor[],
  descriptors: readonly TensorDescriptor[],
  hostLittleEndian = HOST_LITTLE_ENDIAN,
): void {
  tensors.forEach((t, i) => {
    const d = descriptors[i];
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), start + d.offset);
    if (!hostLittleEndian) swapBytes(out, start + d.offset, d.length, bytesPerElement(d.dtype));
  });
}

/**
 * Validates the header's tensor descriptors: bounded count, names, ranks and
 * sizes; `length` equal to elements × dtype width; offsets 8-aligned, in order
 * and not overlapping. Returns them with the section's end (bytes used).
 */
export function parseDescriptors(raw: unknown, limits: ProtocolLimits, path: string): { descriptors: TensorDescriptor[]; end: number } {
  if (!Array.isArray(raw)) throw new DuelError(ErrorCodes.BAD_FRAME, `${path}: expected an array of tensor descriptors`);
  if (raw.length > limits.maxTensors) throw new DuelError(ErrorCodes.BAD_FRAME, `${path}: more than ${limits.maxTensors} tensors`);
  let end = 0;
  const descriptors = raw.map((item, i) => {
    const f = FieldReader.of(item, `${path}[${i}]`);
    const name = f.str('name', limits.maxNameLength);
    const shape = readShape(f, limits);
    const dtype = f.oneOf('dtype', DTYPE_NAMES);
    const offset = f.int('offset', 0, Number.MAX_SAFE_INTEGER);
    const length = f.int('length', 0, Number.MAX_SAFE_INTEGER);
    // Codec fields (§3.4): a finite float32-range scale, a count of sent entries no larger than the tensor.
    const scale = f.has('scale') ? f.num('scale', 0, 3.4028234663852886e38) : undefined;
    const nnz = f.has('nnz') ? f.int('nnz', 0, sizeOf(shape)) : undefined;
    if (offset % TENSOR_ALIGN !== 0) throw f.fail('offset', `not a multiple of ${TENSOR_ALIGN}`);
    if (offset < end) throw f.fail('offset', 'overlaps the previous tensor');
    if (nnz !== undefined && dtype !== 'float32') throw f.fail('nnz', 'only float32 tensors are sparse');
    if (length !== payloadBytes(shape, dtype, nnz)) throw f.fail('length', nnz !== undefined ? 'is not 8 × nnz' : 'does not match shape × dtype');
    end = offset + length;
    const d: TensorDescriptor = { name, shape, dtype, offset, length };
    if (scale !== undefined) d.scale = scale;
    if (nnz !== undefined) d.nnz = nnz;
    return d;
  });
  return { descriptors, end };
}

/** A shape: at most maxRank non-negative integer dims whose product is at most maxTensorElements. */
export function readShape(f: FieldReader, limits: ProtocolLimits): number[] {
  const dims = f.arr('shape', limits.maxRank);
  let n = 1;
  return dims.map((d, j) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) throw f.fail(`shape[${j}]`, 'expected a non-negative integer');
    n *= d;
    if (n > limits.maxTensorElements) throw f.fail('shape', `more than ${limits.maxTensorElements} elements`);
    return d;
  });
}

/**
 * Materialises tensors from the section at `bytes[start..]`. When the absolute
 * byte offset of a tensor is a multiple of its element width the result is a
 * zero-copy view into `bytes.buffer` (it aliases the frame: do not reuse the
 * buffer while the tensors live); otherwise, or on a big-endian host, it is a
 * copy. `copied` counts the copies. Descriptors must come from parseDescriptors
 * and fit in `bytes`.
 */
export function readSection(
  bytes: Uint8Array,
  start: number,
  descriptors: readonly TensorDescriptor[],
  hostLittleEndian = HOST_LITTLE_ENDIAN,
): { tensors: WireTensor[]; copied: number } {
  let copied = 0;
  const tensors = descriptors.map((d) => {
    const { bytes: width, ctor } = DTYPES[d.dtype];
    const n = d.length / width;
    const at = start + d.offset;
    let data: TensorData;
    if (hostLittleEndian && (bytes.byteOffset + at) % width === 0) {
      data = new ctor(bytes.buffer, bytes.byteOffset + at, n);
    } else {
      data = new ctor(n);
      const dst = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      dst.set(bytes.subarray(at, at + d.length));
      if (!hostLittleEndian) swapBytes(dst, 0, d.length, width);
      copied++;
    }
    const t: WireTensor = { name: d.name, shape: d.shape, data };
    if (d.scale !== undefined) t.scale = d.scale;
    if (d.nnz !== undefined) t.nnz = d.nnz;
    return t;
  });
  return { tensors, copied };
}

/** Descriptors for a layout without allocating its tensors (to size frames before they exist). */
export function planFromSpecs(specs: readonly { name: string; shape: readonly number[] }[], dtype: DType = 'float32'): { descriptors: TensorDescriptor[]; sectionBytes: number } {
  let offset = 0;
  const descriptors = specs.map((s) => {
    const d: TensorDescriptor = { name: s.name, shape: [...s.shape], dtype, offset, length: sizeOf(s.shape) * bytesPerElement(dtype) };
    offset = alignUp(offset + d.length);
    return d;
  });
  return { descriptors, sectionBytes: offset };
}
