import { Inject, Injectable } from '@nestjs/common';
import { DuelError, ErrorCodes } from '@duel/util';
import { COORDINATOR_OPTIONS, type CoordinatorOptions } from './coordinator.options';
import { TokenBucket } from './token-bucket';

/** Per-connection budgets: frames and bytes, each a token bucket. */
export interface ConnectionBudget {
  frames: TokenBucket;
  bytes: TokenBucket;
}

/**
 * The coordinator's limits on who may connect and how much they may send:
 * a cap on open connections in total and per client IP, and per-connection
 * frame-rate and byte budgets. Each refusal is a DuelError with a stable code
 * (TOO_MANY_CONNECTIONS or RATE_LIMITED, both closing with 4429) carrying
 * retryAfterMs. Bookkeeping only; the gateway sends and closes.
 */
@Injectable()
export class ConnectionGuard {
  private readonly perIp = new Map<string, number>();
  private open = 0;

  constructor(@Inject(COORDINATOR_OPTIONS) private readonly opts: CoordinatorOptions) {}

  /** Counts a new connection from `ip`, or throws TOO_MANY_CONNECTIONS (the caller must not call release then). */
  admit(ip: string): void {
    const mine = this.perIp.get(ip) ?? 0;
    if (this.open >= this.opts.maxConnections) {
      throw new DuelError(ErrorCodes.TOO_MANY_CONNECTIONS, `the coordinator holds its maximum of ${this.opts.maxConnections} connections`, { retryAfterMs: 5000 });
    }
    if (mine >= this.opts.maxConnectionsPerIp) {
      throw new DuelError(ErrorCodes.TOO_MANY_CONNECTIONS, `at most ${this.opts.maxConnectionsPerIp} connections per address`, { retryAfterMs: 5000 });
    }
    this.perIp.set(ip, mine + 1);
    this.open++;
  }

  release(ip: string): void {
    const mine = this.perIp.get(ip) ?? 0;
    if (mine <= 1) this.perIp.delete(ip);
    else this.perIp.set(ip, mine - 1);
    this.open = Math.max(0, this.open - 1);
  }

  /**
   * A fresh budget for one connection. The byte burst is at least four of the
   * largest frames the server accepts, so an honest worker's result never
   * waits on it.
   */
  budget(now: number, maxPayload: number): ConnectionBudget {
    const { frameRate, byteRate } = this.opts;
    return {
      frames: new TokenBucket(frameRate, now),
      bytes: new TokenBucket({ burst: Math.max(byteRate.burst, 4 * maxPayload), perSecond: Math.max(byteRate.perSecond, maxPayload) }, now),
    };
  }

  /** Charges one frame of `bytes` to a budget, or throws RATE_LIMITED with retryAfterMs. */
  charge(b: ConnectionBudget, bytes: number, now: number): void {
    const waitFrames = b.frames.take(now);
    const waitBytes = waitFrames > 0 ? 0 : b.bytes.take(now, bytes);
    const wait = Math.max(waitFrames, waitBytes);
    if (wait > 0) {
      const what = waitFrames > 0 ? `more than ${this.opts.frameRate.perSecond} frames/s` : 'more bytes/s than its budget';
      throw new DuelError(ErrorCodes.RATE_LIMITED, `this connection sent ${what}`, { retryAfterMs: Number.isFinite(wait) ? wait : 60_000 });
    }
  }

  /** Open connections in total and from one address (for tests and metrics). */
  counts(ip?: string): { open: number; fromIp: number } {
    return { open: this.open, fromIp: ip === undefined ? 0 : (this.perIp.get(ip) ?? 0) };
  }
}
