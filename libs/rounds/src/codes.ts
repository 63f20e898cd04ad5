import type { ErrorCode } from '@duel/util';

/**
 * Codes the round machine introduces. They belong in @duel/util's ErrorCodes
 * and PROTOCOL.md (the one place codes are created); until they move there,
 * they are defined once here.
 */
export const RoundErrorCodes = {
  /** A shard had no answer when its round closed on a quorum below 1: it reaches the strategy as a failure. */
  TASK_TIMEOUT: 'DUEL_ERR_TASK_TIMEOUT',
  /** The result was fine, but the strategy kept the weights as they are this round (it returned null). */
  ROUND_SKIPPED: 'DUEL_ERR_ROUND_SKIPPED',
} as const satisfies Record<string, ErrorCode>;
