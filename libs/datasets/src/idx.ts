import { DuelError, ErrorCodes } from '@duel/util';

/** IDX element types (LeCun's MNIST format), keyed by the third magic byte. */
const IDX_TYPES = {
  0x08: { dtype: 'uint8', bytes: 1 },
  0x09: { dtype: 'int8', bytes: 1 },
  0x0b: { dtype: 'int16', bytes: 2 },
  0x0c: { dtype: 'int32', bytes: 4 },
  0x0d: { dtype: 'float32', bytes: 4 },
  0x0e: { dtype: 'float64', bytes: 8 },
} as const;

export type IdxDtype = (typeof IDX_TYPES)[keyof typeof IDX_TYPES]['dtype'];

export interface IdxArray {
  dtype: IdxDtype;
  /** Dimensions as stored, e.g. [60000, 28, 28] for MNIST training images. */
  dims: number[];
  /** Values in row-major order. uint8 data is a view on the input bytes (no copy). */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

function corrupt(what: string, message: string, details?: Record<string, unknown>): DuelError {
  return new DuelError(ErrorCodes.DATASET_CORRUPT, `${what}: ${message}`, details);
}

/**
 * Parses an IDX file (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"):
 * magic [0, 0, dtype, ndims], ndims big-endian uint32 sizes, then the values
 * big-endian in row-major order. Browser-safe: works on bytes, never on files;
 * gunzip first if the file was compressed.
 *
 * @param what names the source in error messages (a file path, usually).
 * @throws DuelError DUEL_ERR_DATASET_CORRUPT on a bad magic, an unknown dtype, or a
 *   length that does not match the header (truncated or trailing bytes).
 */
export function parseIdx(bytes: Uint8Array, what = 'IDX data'): IdxArray {
  if (bytes.length < 4) throw corrupt(what, `only ${bytes.length} bytes, too short for an IDX header`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw corrupt(what, `bad magic ${hex(bytes, 4)} (expected 00 00 <dtype> <ndims>); gzipped? decompress first`);
  }
  const type = IDX_TYPES[bytes[2] as keyof typeof IDX_TYPES];
  if (!type) throw corrupt(what, `unknown IDX dtype 0x${bytes[2].toString(16).padStart(2, '0')}`);
  const ndims = bytes[3];
  if (ndims === 0) throw corrupt(what, 'IDX header declares 0 dimensions');
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) throw corrupt(what, `truncated header: ${bytes.length} of ${headerBytes} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const expected = headerBytes + count * type.bytes;
  if (bytes.length !== expected) {
    const how = bytes.length < expected ? 'truncated' : 'trailing bytes';
    throw corrupt(what, `${how}: header [${dims}] ${type.dtype} needs ${expected} bytes, got ${bytes.length}`, {
      dims,
      expected,
      actual: bytes.length,
    });
  }
  return { dtype: type.dtype, dims, data: readValues(bytes, view, headerBytes, count, type.dtype) };
}

function readValues(bytes: Uint8Array, view: DataView, at: number, count: number, dtype: IdxDtype): IdxArray['data'] {
  switch (dtype) {
    case 'uint8':
      return bytes.subarray(at, at + count);
    case 'int8':
      return new Int8Array(bytes.buffer, bytes.byteOffset + at, count);
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(at + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(at + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(at + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(at + 8 * i, false);
      return out;
    }
  }
}

/**
 * Encodes an array as IDX bytes (the inverse of parseIdx); used to write test
 * fixtures and exported subsets.
 */
export function encodeIdx(array: IdxArray): Uint8Array {
  const entry = Object.entries(IDX_TYPES).find(([, t]) => t.dtype === array.dtype);
  if (!entry) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `unknown IDX dtype ${array.dtype}`);
  const [code, type] = entry;
  const count = array.dims.reduce((a, b) => a * b, 1);
  if (array.data.length !== count) {
    throw new DuelError(ErrorCodes.SHAPE_MISMATCH, `IDX dims [${array.dims}] hold ${count} values, data has ${array.data.length}`);
  }
  const at = 4 + 4 * array.dims.length;
  const out = new Uint8Array(at + count * type.bytes);
  const view = new DataView(out.buffer);
  out.set([0, 0, Number(code), array.dims.length]);
  array.dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const d = array.data;
  for (let i = 0; i < count; i++) {
    switch (array.dtype) {
      case 'uint8':
        out[at + i] = d[i];
        break;
      case 'int8':
        view.setInt8(at + i, d[i]);
        break;
      case 'int16':
        view.setInt16(at + 2 * i, d[i], false);
        break;
      case 'int32':
        view.setInt32(at + 4 * i, d[i], false);
        break;
      case 'float32':
        view.setFloat32(at + 4 * i, d[i], false);
        break;
      case 'float64':
        view.setFloat64(at + 8 * i, d[i], false);
        break;
    }
  }
  return out;
}

function hex(bytes: Uint8Array, n: number): string {
  return Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
}
