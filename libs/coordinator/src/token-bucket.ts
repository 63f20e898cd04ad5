/**
 * A token bucket (capacity `burst`, refilled at `perSecond`), the shape of
 * ws's limiter.js: small, clock injected, no timers. One bucket per key
 * (an IP, a connection) in a bounded map, so a flood of distinct keys cannot
 * grow memory without bound.
 */
export interface BucketOptions {
  /** Tokens a full bucket holds: the largest burst allowed. */
  burst: number;
  /** Tokens added per second. */
  perSecond: number;
}

export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly opts: BucketOptions,
    now: number,
  ) {
    this.tokens = opts.burst;
    this.at = now;
  }

  /**
   * Takes `cost` tokens if there are enough and returns 0, or takes nothing and
   * returns the ms until there will be (the Retry-After hint).
   */
  take(now: number, cost = 1): number {
    this.refill(now);
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return 0;
    }
    if (cost > this.opts.burst || this.opts.perSecond <= 0) return Number.POSITIVE_INFINITY;
    return Math.ceil(((cost - this.tokens) / this.opts.perSecond) * 1000);
  }

  /** True when the bucket is full again (so a keyed map may forget it). */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.opts.burst;
  }

  private refill(now: number): void {
    const dt = Math.max(0, now - this.at) / 1000;
    this.tokens = Math.min(this.opts.burst, this.tokens + dt * this.opts.perSecond);
    this.at = Math.max(this.at, now);
  }
}

/** Token buckets by key (e.g. client IP), at most `maxKeys` of them; full buckets are forgotten first. */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly opts: BucketOptions,
    private readonly maxKeys = 10_000,
  ) {}

  /** 0 when allowed, else ms to wait. */
  take(key: string, now: number, cost = 1): number {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.evict(now);
      b = new TokenBucket(this.opts, now);
      this.buckets.set(key, b);
    }
    return b.take(now, cost);
  }

  get size(): number {
    return this.buckets.size;
  }

  private evict(now: number): void {
    for (const [k, b] of this.buckets) if (b.full(now)) this.buckets.delete(k);
    // Everyone is mid-burst: drop the oldest keys (Map keeps insertion order).
    const excess = this.buckets.size - Math.floor(this.maxKeys * 0.9);
    if (excess > 0) for (const k of [...this.buckets.keys()].slice(0, excess)) this.buckets.delete(k);
  }
}
