import { decodeFrame, limitsFor, toDuelError, type Layout } from '@duel/protocol';
import type { ParsedMessage } from './rounds.gateway';

/**
 * The WsAdapter's messageParser: the one place a binary frame is decoded and
 * validated against the run's tensor layout and size limits. Never throws: a
 * bad frame becomes `{ ok: false, error }` for the gateway to answer.
 */
export function frameParser(layout: Layout): (data: unknown) => { event: 'frame'; data: ParsedMessage } {
  const limits = limitsFor(layout);
  return (data) => {
    const bytes = data instanceof Uint8Array ? data : typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(0);
    try {
      return { event: 'frame', data: { ok: true, frame: decodeFrame(bytes, { layout, limits, from: 'worker' }), bytes: bytes.byteLength } };
    } catch (e) {
      return { event: 'frame', data: { ok: false, error: toDuelError(e), bytes: bytes.byteLength } };
    }
  };
}
