import { DuelError, ErrorCodes, allFinite, globalNorm, wasFoundFinite } from '@duel/util';
import type { AggregationStrategy, ClientUpdate } from '../strategy';
import { medianOf } from '../kernels';
import { ScreenStrategy } from './screen-strategy';

/**
 * Which updates have an outlier norm: above `ratio` × the median norm of the
 * round. The median needs a majority of honest updates to mean anything, so
 * with fewer than 3 updates nothing is flagged. Non-finite norms are left to
 * the strategy's own screening (NON_FINITE). Pure, for tests and reuse.
 */
export function normOutliers(norms: readonly number[], ratio: number): boolean[] {
  if (norms.filter(Number.isFinite).length < 3) return norms.map(() => false);
  const med = medianOf(norms);
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
export class NormScreenStrategy extends ScreenStrategy {
  readonly name: string;
  readonly paper?: string;

  constructor(
    inner: AggregationStrategy,
    readonly ratio: number,
  ) {
    super(inner);
    if (!(Number.isFinite(ratio) && ratio >= 1)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `norm screen: ratio must be >= 1, got ${ratio}`);
    this.name = `${inner.name}+screen`;
    this.paper = inner.paper;
  }

  protected screen(results: readonly ClientUpdate[]): (string | null)[] {
    const norms = results.map((u) => (wasFoundFinite(u.grads) || allFinite(u.grads) ? globalNorm(u.grads) : Number.NaN));
    const flagged = normOutliers(norms, this.ratio);
    return norms.map((n, i) => (flagged[i] ? `update norm ${n.toExponential(3)} above ${this.ratio}× the round's median` : null));
  }
}
