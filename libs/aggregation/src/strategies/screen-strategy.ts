import { ErrorCodes, type ErrorCode } from '@duel/util';
import type { AggregateOutcome, AggregationStrategy, ClientUpdate, Failure, Rejection, StrategyCounts } from '../strategy';

/** Why a screen rejects an update: a reason (code DUEL_ERR_OUTLIER), or a code and reason. */
export type ScreenVerdict = string | { code: ErrorCode; reason: string } | null;

/**
 * A screen in front of a strategy: it rejects some updates (as
 * DUEL_ERR_OUTLIER unless it names another code, each with its reason,
 * counted against its worker) and hands the rest to `inner`. Subclasses say
 * only which updates and why.
 */
export abstract class ScreenStrategy implements AggregationStrategy {
  abstract readonly name: string;
  abstract readonly paper?: string;
  private screened: Rejection[] = [];
  private readonly own = { rejected: 0, byCode: {} as Record<string, number> };

  constructor(readonly inner: AggregationStrategy) {}

  /** Per update: why it is rejected, or null to keep it. */
  protected abstract screen(results: readonly ClientUpdate[]): ScreenVerdict[];

  aggregate(results: readonly ClientUpdate[], failures: readonly Failure[] = []): AggregateOutcome {
    const why = this.screen(results);
    this.screened = [];
    const kept: ClientUpdate[] = [];
    results.forEach((u, i) => {
      const v = why[i];
      if (v === null) kept.push(u);
      else this.screened.push({ workerId: u.workerId, ...(typeof v === 'string' ? { code: ErrorCodes.OUTLIER, reason: v } : v) });
    });
    this.own.rejected += this.screened.length;
    for (const r of this.screened) this.own.byCode[r.code] = (this.own.byCode[r.code] ?? 0) + 1;
    const outcome = this.inner.aggregate(kept, failures);
    return outcome ? { ...outcome, rejected: inInputOrder(results, [...this.screened, ...outcome.rejected]) } : null;
  }

  counts(): StrategyCounts {
    const c = this.inner.counts();
    const byCode = { ...c.rejectedByCode };
    for (const [k, v] of Object.entries(this.own.byCode)) byCode[k] = (byCode[k] ?? 0) + v;
    return { ...c, received: c.received + this.own.rejected, rejected: c.rejected + this.own.rejected, rejectedByCode: byCode };
  }

  get lastRejected(): readonly Rejection[] {
    return [...this.screened, ...this.inner.lastRejected];
  }
}

function inInputOrder(results: readonly ClientUpdate[], rejected: Rejection[]): Rejection[] {
  const pos = new Map(results.map((u, i) => [u.workerId, i] as const));
  return rejected.sort((a, b) => (pos.get(a.workerId) ?? 0) - (pos.get(b.workerId) ?? 0));
}
