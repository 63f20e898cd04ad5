import { DuelError, ErrorCodes, isDuelError, type ErrorCode } from '@duel/util';
import type { ErrorFrame } from './frames';

/**
 * WebSocket close codes. 4000–4999 is the private-use range of RFC 6455 §7.4.2;
 * the last three digits echo the HTTP status they resemble, so logs read easily.
 */
export const CloseCodes = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  BAD_FRAME: 4400,
  UNAUTHORIZED: 4401,
  HANDSHAKE_TIMEOUT: 4408,
  PROTOCOL_VERSION: 4409,
  FRAME_TOO_LARGE: 4413,
  RATE_LIMITED: 4429,
  /** IIS's 440 "login time-out": the session expired; fetch a new one and reconnect. */
  SESSION_EXPIRED: 4440,
  INTERNAL: 4500,
  SHUTTING_DOWN: 4503,
} as const;

export interface ErrorPolicy {
  /** Close code the detecting side closes with, or null when the connection stays open. */
  close: number | null;
  /** For errors about one result: the ack status the coordinator answers with. */
  ack?: 'rejected' | 'duplicate';
  /** One sentence for PROTOCOL.md and logs (ws's doc/ws.md style). */
  summary: string;
}

/** Every code the wire can carry, and what it does to the connection. PROTOCOL.md lists the same table. */
export const ERROR_POLICIES: Readonly<Record<string, ErrorPolicy>> = Object.freeze({
  [ErrorCodes.BAD_FRAME]: { close: CloseCodes.BAD_FRAME, summary: 'The frame is not valid: truncated, wrong magic, wrong field type or range, or not allowed from this sender.' },
  [ErrorCodes.UNKNOWN_FRAME]: { close: CloseCodes.BAD_FRAME, summary: 'The frame type `t` is not one this protocol version defines.' },
  [ErrorCodes.NOT_HELLO]: { close: CloseCodes.BAD_FRAME, summary: 'A frame other than hello arrived before the handshake completed.' },
  [ErrorCodes.SHAPE_MISMATCH]: { close: CloseCodes.BAD_FRAME, summary: 'Tensor names, order, shapes or dtypes differ from the run\'s layout.' },
  [ErrorCodes.PROTOCOL_VERSION]: { close: CloseCodes.PROTOCOL_VERSION, summary: 'The peer speaks another protocol version.' },
  [ErrorCodes.FRAME_TOO_LARGE]: { close: CloseCodes.FRAME_TOO_LARGE, summary: 'The frame or its header exceeds the negotiated size limits.' },
  [ErrorCodes.UNAUTHORIZED]: { close: CloseCodes.UNAUTHORIZED, summary: 'The hello token is missing or wrong.' },
  [ErrorCodes.HANDSHAKE_TIMEOUT]: { close: CloseCodes.HANDSHAKE_TIMEOUT, summary: 'No hello arrived within the handshake timeout.' },
  [ErrorCodes.HEARTBEAT_TIMEOUT]: { close: CloseCodes.HANDSHAKE_TIMEOUT, summary: 'The peer answered no ping for three heartbeat intervals.' },
  [ErrorCodes.RATE_LIMITED]: { close: CloseCodes.RATE_LIMITED, summary: 'The peer sent frames or connections too fast; retry after retryAfterMs.' },
  [ErrorCodes.SESSION_EXPIRED]: { close: CloseCodes.SESSION_EXPIRED, summary: 'The volunteer session token has expired; get a new one from POST /api/volunteer/session and reconnect.' },
  [ErrorCodes.TOO_MANY_CONNECTIONS]: { close: CloseCodes.RATE_LIMITED, summary: 'The cap on connections from this address, or in total, is reached; retry after retryAfterMs.' },
  [ErrorCodes.SHUTTING_DOWN]: { close: CloseCodes.SHUTTING_DOWN, summary: 'The coordinator is stopping; reconnect after retryAfterMs.' },
  [ErrorCodes.INTERNAL]: { close: CloseCodes.INTERNAL, summary: 'The sender hit a bug while handling a frame; the connection is dropped, the process lives on.' },
  [ErrorCodes.STALE_VERSION]: { close: null, ack: 'rejected', summary: 'The result was computed at weights older than the run accepts (sync: not current; async: older than current − staleness).' },
  [ErrorCodes.UNKNOWN_TASK]: { close: null, ack: 'rejected', summary: 'No open task has this taskId for this worker (expired, reassigned or never issued).' },
  [ErrorCodes.DUPLICATE]: { close: null, ack: 'duplicate', summary: 'A result for this (workerId, taskId) was already applied; it is not applied again.' },
  [ErrorCodes.OUTLIER]: { close: null, ack: 'rejected', summary: 'A robust strategy (e.g. Krum) left this update out of the aggregate.' },
  [ErrorCodes.ROUND_SKIPPED]: { close: null, ack: 'rejected', summary: 'The result was valid, but the strategy kept the weights as they are this round.' },
  [ErrorCodes.VALIDATION_MISMATCH]: { close: null, ack: 'rejected', summary: 'Validation by redundancy: the result disagreed with the replicas (or the node worker) that decided its shard; it earns no credit.' },
  [ErrorCodes.TASK_TIMEOUT]: { close: null, summary: 'A shard had no answer when its round closed on a quorum below 1; it reached the strategy as a failure.' },
  [ErrorCodes.NON_FINITE]: { close: null, ack: 'rejected', summary: 'A tensor holds NaN or ±Infinity; the update is dropped, the worker may go on.' },
  [ErrorCodes.RESUME_REFUSED]: { close: null, summary: 'hello.resume carried no resume token that verifies for that workerId; nobody is evicted and the welcome that follows assigns a new workerId.' },
});

/** Policy for a code; codes outside the table (e.g. DUEL_ERR_BAD_SPEC raised while handling a frame) count as INTERNAL. */
export function policyFor(code: ErrorCode): ErrorPolicy {
  return Object.prototype.hasOwnProperty.call(ERROR_POLICIES, code) ? ERROR_POLICIES[code] : ERROR_POLICIES[ErrorCodes.INTERNAL];
}

/** The close code for an error, or null when the connection stays open. */
export function closeCodeFor(code: ErrorCode): number | null {
  return policyFor(code).close;
}

/** Wraps anything thrown into a DuelError; non-DuelErrors become INTERNAL (their message stays in details only). */
export function toDuelError(e: unknown): DuelError {
  if (isDuelError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new DuelError(ErrorCodes.INTERNAL, 'internal error', { cause: message });
}

/** RFC 6455 §5.5.1: a close reason is at most 123 bytes of UTF-8 (ws throws beyond). */
export function closeReason(err: DuelError): string {
  const enc = new TextEncoder();
  let reason = err.message;
  if (enc.encode(reason).length <= 123) return reason;
  reason = err.code;
  const rest = err.message.startsWith(`${err.code}: `) ? err.message.slice(err.code.length + 2) : err.message;
  for (const ch of `: ${rest}`) {
    if (enc.encode(reason + ch + '…').length > 123) break;
    reason += ch;
  }
  return `${reason}…`;
}

/**
 * The error frame to send for an error. INTERNAL never leaks its cause to the
 * peer; `fatal` follows the policy table.
 */
export function errorFrameFor(e: unknown, retryAfterMs?: number): ErrorFrame {
  const err = toDuelError(e);
  const policy = policyFor(err.code);
  const prefix = `${err.code}: `;
  const text = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  const frame: ErrorFrame = {
    t: 'error',
    code: err.code,
    message: err.code === ErrorCodes.INTERNAL ? 'internal error' : text.slice(0, 1024),
    fatal: policy.close !== null,
  };
  if (retryAfterMs !== undefined) frame.retryAfterMs = retryAfterMs;
  return frame;
}
