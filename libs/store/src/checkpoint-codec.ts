import { createHash } from 'node:crypto';
import { DuelError, ErrorCodes, sizeOf, type NamedWeights } from '@duel/util';
import type { CheckpointData, CheckpointMeta } from './state-store';

/**
 * One checkpoint as one self-checking blob, the same bytes in a file and in
 * Redis. All integers little-endian:
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 8 | magic `DUELCKPT` |
 * | 8 | 4 | format version (1) |
 * | 12 | 4 | header length H (UTF-8 JSON) |
 * | 16 | 8 | total length of the blob (u64) |
 * | 24 | 32 | SHA-256 of bytes [56, total) |
 * | 56 | H | header `{meta, tensors: [{name, shape, offset, length}]}` |
 * | … | | zero padding to a multiple of 8, then the float32 tensor bytes |
 *
 * A torn write (any length but `total`) or a flipped bit (hash mismatch) is
 * refused with DUEL_ERR_CHECKPOINT_CORRUPT before any field is trusted.
 * Tensor bytes are copied as bytes, so values round-trip bit for bit.
 */
const MAGIC = new TextEncoder().encode('DUELCKPT');
export const CHECKPOINT_FORMAT = 1;
const FIXED = 56;

interface Descriptor {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

const align8 = (n: number) => (n + 7) & ~7;

export function encodeCheckpoint(cp: CheckpointData): Uint8Array {
  const descs: Descriptor[] = [];
  let off = 0;
  for (const t of cp.tensors) {
    const length = t.data.byteLength;
    descs.push({ name: t.name, shape: [...t.shape], offset: off, length });
    off = align8(off + length);
  }
  const header = new TextEncoder().encode(JSON.stringify({ meta: cp.meta, tensors: descs }));
  const section = align8(FIXED + header.byteLength);
  const total = section + off;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(8, CHECKPOINT_FORMAT, true);
  view.setUint32(12, header.byteLength, true);
  view.setBigUint64(16, BigInt(total), true);
  out.set(header, FIXED);
  cp.tensors.forEach((t, i) => out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), section + descs[i].offset));
  out.set(sha256(out.subarray(FIXED)), 24);
  return out;
}

/** Decodes and verifies a blob; `what` names it in errors (a file name, a Redis key). */
export function decodeCheckpoint(bytes: Uint8Array, what = 'checkpoint'): CheckpointData {
  const corrupt = (why: string): never => {
    throw new DuelError(ErrorCodes.CHECKPOINT_CORRUPT, `${what}: ${why}; it is not loaded`, { what });
  };
  if (bytes.byteLength < FIXED) corrupt(`truncated: ${bytes.byteLength} bytes, shorter than the ${FIXED}-byte preamble`);
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) corrupt('not a duel checkpoint (bad magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const format = view.getUint32(8, true);
  if (format !== CHECKPOINT_FORMAT) corrupt(`format ${format}, this build reads ${CHECKPOINT_FORMAT}`);
  const total = Number(view.getBigUint64(16, true));
  if (total !== bytes.byteLength) corrupt(`torn or partial: header says ${total} bytes, found ${bytes.byteLength}`);
  const want = bytes.subarray(24, FIXED);
  const got = sha256(bytes.subarray(FIXED));
  if (!got.every((b, i) => b === want[i])) corrupt('SHA-256 mismatch (the bytes changed after writing)');
  const headerLen = view.getUint32(12, true);
  if (FIXED + headerLen > total) corrupt('header runs past the end');
  let header: { meta: CheckpointMeta; tensors: Descriptor[] };
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(FIXED, FIXED + headerLen)));
  } catch (e) {
    return corrupt(`header is not JSON (${(e as Error).message})`);
  }
  if (!header || typeof header.meta !== 'object' || !Array.isArray(header.tensors)) corrupt('header lacks meta or tensors');
  const section = align8(FIXED + headerLen);
  const tensors: NamedWeights = header.tensors.map((d) => {
    if (d.length !== sizeOf(d.shape) * 4 || d.offset % 8 !== 0 || section + d.offset + d.length > total) corrupt(`tensor ${d.name} is out of bounds`);
    const data = new Float32Array(d.length / 4);
    new Uint8Array(data.buffer).set(bytes.subarray(section + d.offset, section + d.offset + d.length));
    return { name: d.name, shape: d.shape, data };
  });
  return { meta: header.meta, tensors };
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}
