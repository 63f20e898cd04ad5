import { ErrorCodes, type ErrorCode } from '@duel/util';

/** Codes the round machine raises; created in @duel/util's ErrorCodes and listed in PROTOCOL.md. */
export const RoundErrorCodes = {
  TASK_TIMEOUT: ErrorCodes.TASK_TIMEOUT,
  ROUND_SKIPPED: ErrorCodes.ROUND_SKIPPED,
  VALIDATION_MISMATCH: ErrorCodes.VALIDATION_MISMATCH,
} as const satisfies Record<string, ErrorCode>;
