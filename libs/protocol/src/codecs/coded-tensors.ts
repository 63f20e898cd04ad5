import { DuelError, ErrorCodes, sizeOf, type NamedWeights } from '@duel/util';
import type { TensorData, TensorDescriptor, WireTensor } from '../tensor-section';
import type { CodecName, CodecSpec } from './codec-spec';
import { decodeFp16, encodeFp16 } from './fp16.codec';
import { decodeInt8, encodeInt8 } from './int8.codec';
import { checkTopkIndices, decodeTopk, encodeTopk, topkCount, DEFAULT_TOPK_RATIO } from './topk.codec';

/**
 * How each codec lays one tensor out in the frame's tensor section
 * (PROTOCOL.md §3.4):
 *
 * | codec | dtype   | extra            | bytes                                  |
 * |-------|---------|------------------|----------------------------------------|
 * | fp32  | float32 |                  | 4n                                     |
 * | fp16  | float16 |                  | 2n                                     |
 * | int8  | int8    | scale (≥ 0)      | n                                      |
 * | topk  | float32 | nnz (0..n)       | 8·nnz: nnz u32 indices, nnz f32 values |
 */
export const CODEC_DTYPE = { fp32: 'float32', fp16: 'float16', int8: 'int8', topk: 'float32' } as const;

/** Encodes float32 tensors with `codec` into wire tensors (fp32 passes the arrays through, uncopied). */
export function encodeTensors(ws: NamedWeights, codec: CodecSpec): WireTensor[] {
  return ws.map((w) => encodeTensor(w.name, w.shape, w.data, codec));
}

export function encodeTensor(name: string, shape: number[], data: Float32Array, codec: CodecSpec): WireTensor {
  switch (codec.name) {
    case 'fp32':
      return { name, shape, data };
    case 'fp16':
      return { name, shape, data: encodeFp16(data) };
    case 'int8': {
      const { q, scale } = encodeInt8(data);
      return { name, shape, data: q, scale };
    }
    case 'topk': {
      const k = topkCount(data.length, codec.ratio ?? DEFAULT_TOPK_RATIO);
      const payload = new Uint8Array(8 * k);
      encodeTopk(data, k, { indices: new Uint32Array(payload.buffer, 0, k), values: new Float32Array(payload.buffer, 4 * k, k) });
      return { name, shape, data: payload, dtype: 'float32', nnz: k };
    }
  }
}

/**
 * Decodes one wire tensor (its payload as read from the section) into `out`,
 * a dense float32 array of product(shape) values. Checks what the descriptor
 * checks could not: a finite scale, topk indices in range and strictly
 * ascending. Throws BAD_FRAME.
 */
export function decodeTensorInto(codec: CodecName, t: WireTensor, out: Float32Array): Float32Array {
  const n = sizeOf(t.shape);
  if (out.length !== n) throw new DuelError(ErrorCodes.INTERNAL, `decode ${t.name}: output of ${out.length} for ${n} values`);
  switch (codec) {
    case 'fp32':
      out.set(t.data as Float32Array);
      return out;
    case 'fp16':
      return decodeFp16(t.data as Uint16Array, out);
    case 'int8':
      return decodeInt8(t.data as Int8Array, t.scale!, out);
    case 'topk': {
      const nnz = t.nnz!;
      const { indices, values } = topkViews(t.data, nnz);
      const why = checkTopkIndices(indices, n);
      if (why) throw new DuelError(ErrorCodes.BAD_FRAME, `${t.name}: ${why}`);
      return decodeTopk(indices, values, out);
    }
  }
}

/** The index and value arrays of a topk payload (views when 4-aligned, else copies). */
function topkViews(data: TensorData, nnz: number): { indices: Uint32Array; values: Float32Array } {
  if (data.byteLength !== 8 * nnz) throw new DuelError(ErrorCodes.BAD_FRAME, `topk payload of ${data.byteLength} bytes for nnz ${nnz}`);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const b = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
  return { indices: new Uint32Array(b.buffer, b.byteOffset, nnz), values: new Float32Array(b.buffer, b.byteOffset + 4 * nnz, nnz) };
}

/** Decodes a result's wire tensors into fresh dense float32 tensors. */
export function decodeTensors(codec: CodecName, tensors: readonly WireTensor[]): NamedWeights {
  return tensors.map((t) => ({ name: t.name, shape: t.shape, data: decodeTensorInto(codec, t, new Float32Array(sizeOf(t.shape))) }));
}

/**
 * Checks that descriptors fit `codec` (dtype, and scale/nnz present exactly
 * when the codec uses them). parseDescriptors has already checked lengths,
 * offsets, finiteness of scale and nnz ≤ n. Throws BAD_FRAME.
 */
export function checkDescriptorsForCodec(codec: CodecName, ds: readonly TensorDescriptor[], path: string): void {
  const dtype = CODEC_DTYPE[codec];
  ds.forEach((d, i) => {
    const fail = (why: string) => new DuelError(ErrorCodes.BAD_FRAME, `${path}[${i}] (${d.name}): ${why} for codec ${codec}`);
    if (d.dtype !== dtype) throw fail(`dtype ${d.dtype}, expected ${dtype}`);
    if ((d.scale !== undefined) !== (codec === 'int8')) throw fail(codec === 'int8' ? 'scale missing' : 'unexpected scale');
    if ((d.nnz !== undefined) !== (codec === 'topk')) throw fail(codec === 'topk' ? 'nnz missing' : 'unexpected nnz');
  });
}
