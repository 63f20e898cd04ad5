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
