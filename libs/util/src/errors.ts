/**
 * Every error that crosses a boundary (CLI, wire, HTTP) carries a stable code.
 * Codes are listed in PROTOCOL.md; add new ones here and there together.
 */
export const ErrorCodes = {
  UNKNOWN_DATASET: 'DUEL_ERR_UNKNOWN_DATASET',
  DATASET_MISSING: 'DUEL_ERR_DATASET_MISSING',
  DATASET_CORRUPT: 'DUEL_ERR_DATASET_CORRUPT',
  UNKNOWN_MODEL: 'DUEL_ERR_UNKNOWN_MODEL',
  BAD_SPEC: 'DUEL_ERR_BAD_SPEC',
  BAD_ARGUMENT: 'DUEL_ERR_BAD_ARGUMENT',
  SHAPE_MISMATCH: 'DUEL_ERR_SHAPE_MISMATCH',
  BACKEND_UNAVAILABLE: 'DUEL_ERR_BACKEND_UNAVAILABLE',
  NON_FINITE: 'DUEL_ERR_NON_FINITE',
  /** An aggregation strategy left this update out as an outlier (e.g. not selected by Krum). */
  OUTLIER: 'DUEL_ERR_OUTLIER',
  /** The norm screen's quarantine (`strikes=S`): this worker sent S outlier updates, so none of its updates is used any more. */
  QUARANTINED: 'DUEL_ERR_QUARANTINED',
  /** Wire protocol (libs/protocol, PROTOCOL.md): each maps to a close code in ERROR_POLICIES. */
  BAD_FRAME: 'DUEL_ERR_BAD_FRAME',
  UNKNOWN_FRAME: 'DUEL_ERR_UNKNOWN_FRAME',
  PROTOCOL_VERSION: 'DUEL_ERR_PROTOCOL_VERSION',
  FRAME_TOO_LARGE: 'DUEL_ERR_FRAME_TOO_LARGE',
  STALE_VERSION: 'DUEL_ERR_STALE_VERSION',
  UNKNOWN_TASK: 'DUEL_ERR_UNKNOWN_TASK',
  DUPLICATE: 'DUEL_ERR_DUPLICATE',
  NOT_HELLO: 'DUEL_ERR_NOT_HELLO',
  UNAUTHORIZED: 'DUEL_ERR_UNAUTHORIZED',
  RATE_LIMITED: 'DUEL_ERR_RATE_LIMITED',
  SHUTTING_DOWN: 'DUEL_ERR_SHUTTING_DOWN',
  INTERNAL: 'DUEL_ERR_INTERNAL',
  HANDSHAKE_TIMEOUT: 'DUEL_ERR_HANDSHAKE_TIMEOUT',
  HEARTBEAT_TIMEOUT: 'DUEL_ERR_HEARTBEAT_TIMEOUT',
  /** A shard had no answer when its round closed on a quorum below 1 (reaches the strategy as a failure). */
  TASK_TIMEOUT: 'DUEL_ERR_TASK_TIMEOUT',
  /** The result was fine, but the strategy kept the weights as they are this round. */
  ROUND_SKIPPED: 'DUEL_ERR_ROUND_SKIPPED',
  /** Validation by redundancy: this volunteer's result disagreed with the replicas (or node worker) that decided its shard. */
  VALIDATION_MISMATCH: 'DUEL_ERR_VALIDATION_MISMATCH',
  /** State store (libs/store): a checkpoint failed its length or checksum check and was not loaded. */
  CHECKPOINT_CORRUPT: 'DUEL_ERR_CHECKPOINT_CORRUPT',
  /** --resume found no checkpoint, or the checkpoint belongs to another model or run config. */
  CHECKPOINT_MISSING: 'DUEL_ERR_CHECKPOINT_MISSING',
  CHECKPOINT_MISMATCH: 'DUEL_ERR_CHECKPOINT_MISMATCH',
  /** The store (Redis) is unreachable; the coordinator trains on from memory and catches it up later. */
  STORE_UNAVAILABLE: 'DUEL_ERR_STORE_UNAVAILABLE',
  /** A volunteer session token that was valid once but has expired: fetch a new one from POST /api/volunteer/session. */
  SESSION_EXPIRED: 'DUEL_ERR_SESSION_EXPIRED',
  /**
   * A hello asked to resume a workerId without a resume token that verifies
   * (missing, forged, or signed under another key): nobody is evicted, the
   * connection goes on under a fresh workerId.
   */
  RESUME_REFUSED: 'DUEL_ERR_RESUME_REFUSED',
  /** The coordinator's cap on connections (per IP or in total) is reached. */
  TOO_MANY_CONNECTIONS: 'DUEL_ERR_TOO_MANY_CONNECTIONS',
  /** A run control the coordinator cannot carry out mid-run (e.g. a new batch size or model), or one after the run completed. */
  CONTROL_UNSUPPORTED: 'DUEL_ERR_CONTROL_UNSUPPORTED',
  /** The coordinator has no built web pages to serve (run `npm run build:web`). */
  WEB_NOT_BUILT: 'DUEL_ERR_WEB_NOT_BUILT',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes] | `DUEL_ERR_${string}`;

export class DuelError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(`${code}: ${message}`);
    this.name = 'DuelError';
  }
}

export function isDuelError(e: unknown): e is DuelError {
  return e instanceof DuelError;
}
