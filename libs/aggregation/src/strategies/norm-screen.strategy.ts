import { DuelError, ErrorCodes, allFinite, globalNorm } from '@duel/util';
import type { AggregateOutcome, AggregationStrategy, ClientUpdate, Failure, Rejection, StrategyCounts } from '../strategy';

/**
 * Which updates have an outlier norm: above `ratio` × the median norm of the
 * round. The median needs a majority of honest updates to mean anything, so
 * with fewer than 3 updates nothing is flagged. Non-finite norms are left to
 * the strategy's own screening (NON_FINITE). Pure, for tests and reuse.
 */
export function normOutliers(norms: readonly number[], ratio: number): boolean[] {
  const finite = norms.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length < 3) return norms.map(() => false);
  const h = finite.length >> 1;
  const med = finite.length % 2 === 1 ? finite[h] : (finite[h - 1] + finite[h]) / 2;
  return norms.map((n) => Number.isFinite(n) && n > ratio * med);
}

/**
 * Rejects updates whose global L2 norm is more than `ratio` × the round's
 * median norm (DUEL_ERR_OUTLIER), then hands the rest to `inner`. It catches
 * the cheap attacks (×100 scaling, large noise) before any strategy sees them,
 * in the spirit of norm bounding (Sun et al. 2019) but dropping instead of
 * clipping, so the rejection is counted against the worker. It does not stop
 * attacks that stay within the honest spread (ALIE, Baruch et al. 2019):
 * pair it with a robust `inner`.
 */
export class NormScreenStrategy implements AggregationStrategy {
  readonly name: string;
  readonly paper?: string;
  private screened: Rejection[] = [];
  private own = { rejected: 0, byCode: {} as Record<string, number> };

  constructor(
    readonly inner: AggregationStrategy,
    readonly ratio: number,
  ) {
    if (!(Number.isFinite(ratio) && ratio >= 1)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `norm screen: ratio must be >= 1, got ${ratio}`);
    this.name = `${inner.name}+screen`;
    this.paper = inner.paper;
  }

  aggregate(results: readonly ClientUpdate[], failures: readonly Failure[] = []): AggregateOutcome {
    const norms = results.map((u) => (allFinite(u.grads) ? globalNorm(u.grads) : Number.NaN));
    const flagged = normOutliers(norms, this.ratio);
    this.screened = [];
    const kept: ClientUpdate[] = [];
    results.forEach((u, i) => {
      if (!flagged[i]) kept.push(u);
      else this.screened.push({ workerId: u.workerId, code: ErrorCodes.OUTLIER, reason: `update norm ${norms[i].toExponential(3)} above ${this.ratio}× the round's median` });
    });
    this.own.rejected += this.screened.length;
    if (this.screened.length) this.own.byCode[ErrorCodes.OUTLIER] = (this.own.byCode[ErrorCodes.OUTLIER] ?? 0) + this.screened.length;
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
