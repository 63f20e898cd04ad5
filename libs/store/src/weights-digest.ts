import { createHash } from 'node:crypto';
import type { NamedWeights } from '@duel/util';

/** sha256 over names, shapes and raw float32 bytes, in canonical order: equal digests mean bit-identical weights. */
export function weightsDigest(...sets: NamedWeights[]): string {
  const h = createHash('sha256');
  for (const ws of sets) {
    for (const w of ws) {
      h.update(`${w.name}:${w.shape.join('x')};`);
      h.update(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength));
    }
  }
  return h.digest('hex');
}
