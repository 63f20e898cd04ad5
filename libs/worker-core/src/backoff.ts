import type { Rng } from '@duel/util';

export interface BackoffOptions {
  /** First ceiling, ms. */
  baseMs?: number;
  /** Largest ceiling, ms. */
  capMs?: number;
}

/**
 * Reconnect delays: exponential backoff with full jitter (Brooker, "Exponential
 * Backoff And Jitter", AWS Architecture Blog 2015). Attempt n waits a uniform
 * draw from [0, min(cap, base·2^n)), which spreads a crowd of workers that lost
 * the coordinator at the same instant instead of having them return in lockstep.
 * The jitter comes from a seeded Rng (no Math.random on worker paths).
 */
export class Backoff {
  readonly baseMs: number;
  readonly capMs: number;
  private attempt = 0;

  constructor(
    private readonly rng: Rng,
    opts: BackoffOptions = {},
  ) {
    this.baseMs = opts.baseMs ?? 250;
    this.capMs = opts.capMs ?? 10_000;
  }

  /** Attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The ceiling of the next delay, without drawing. */
  ceiling(): number {
    // 2^attempt overflows nothing here: the exponent stops growing once the cap is reached.
    const exp = Math.min(this.attempt, 30);
    return Math.min(this.capMs, this.baseMs * 2 ** exp);
  }

  /** The next delay in ms, at least `floorMs` (a server's retryAfterMs). */
  next(floorMs = 0): number {
    const delay = Math.floor(this.rng.uniform() * this.ceiling());
    this.attempt++;
    return Math.max(delay, floorMs);
  }

  /** After a successful handshake: the next failure starts from the base again. */
  reset(): void {
    this.attempt = 0;
  }
}
