import { DuelError, ErrorCodes, allFinite, globalNorm, wasFoundFinite } from '@duel/util';
import { senderOf, type AggregationStrategy, type ClientUpdate } from '../strategy';
import { medianOf } from '../kernels';
import { ScreenStrategy, type ScreenVerdict } from './screen-strategy';

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
 * Per-worker strikes: how many of a worker's updates the screen rejected, and
 * whether that reached the quarantine threshold. Pure bookkeeping, no clock:
 * a quarantine lasts for the life of the strategy (the run, or until the
 * coordinator restarts).
 */
export class StrikeLedger {
  private readonly strikes = new Map<string, number>();

  constructor(readonly threshold: number) {
    if (!(Number.isInteger(threshold) && threshold >= 1)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `strikes must be an integer >= 1, got ${threshold}`);
  }

  /** Counts one rejected update; true when this one puts the worker in quarantine. */
  strike(workerId: string): boolean {
    const n = (this.strikes.get(workerId) ?? 0) + 1;
    this.strikes.set(workerId, n);
    return n === this.threshold;
  }

  count(workerId: string): number {
    return this.strikes.get(workerId) ?? 0;
  }

  quarantined(workerId: string): boolean {
    return this.count(workerId) >= this.threshold;
  }

  /** Quarantined worker ids, sorted (for /api/status and tests). */
  list(): string[] {
    return [...this.strikes].filter(([, n]) => n >= this.threshold).map(([id]) => id).sort();
  }
}

/**
 * Rejects updates whose global L2 norm is more than `ratio` × the round's
 * median norm (DUEL_ERR_OUTLIER), then hands the rest to `inner`. It catches
 * the cheap attacks (×100 scaling, large noise) before any strategy sees them,
 * in the spirit of norm bounding (Sun et al. 2019) but dropping instead of
 * clipping, so the rejection is counted against the worker. It does not stop
 * attacks that stay within the honest spread (ALIE, Baruch et al. 2019):
 * pair it with a robust `inner`.
 *
 * With `strikes` = S, a worker (an update's `sender`) whose updates this screen rejected S times is
 * quarantined: every later update of it is refused as DUEL_ERR_QUARANTINED,
 * whatever its norm, and it no longer counts towards the round's median. A
 * norm 10× the median is not something an honest worker on iid data sends
 * (none did in any clean run here), so S outliers mark a worker as Byzantine
 * or broken, and what it sends between its outliers (a sign flip, ALIE)
 * cannot be told from honest noise in any one round: the record is the only
 * evidence there is. It is the reputation rule of volunteer computing (BOINC's
 * per-host error counts, Anderson 2004) applied to the screen's rejections,
 * and it only helps against attackers that are loud at least S times: one
 * that only ever sends ALIE is left to the robust `inner`.
 */
export class NormScreenStrategy extends ScreenStrategy {
  readonly name: string;
  readonly paper?: string;
  readonly ledger: StrikeLedger | null;

  constructor(
    inner: AggregationStrategy,
    readonly ratio: number,
    strikes?: number,
  ) {
    super(inner);
    if (!(Number.isFinite(ratio) && ratio >= 1)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `norm screen: ratio must be >= 1, got ${ratio}`);
    this.ledger = strikes === undefined ? null : new StrikeLedger(strikes);
    this.name = `${inner.name}+screen${this.ledger ? '+quarantine' : ''}`;
    this.paper = inner.paper;
  }

  protected screen(results: readonly ClientUpdate[]): ScreenVerdict[] {
    const ledger = this.ledger;
    const barred = results.map((u) => ledger?.quarantined(senderOf(u)) ?? false);
    const norms = results.map((u, i) => (barred[i] ? Number.NaN : wasFoundFinite(u.grads) || allFinite(u.grads) ? globalNorm(u.grads) : Number.NaN));
    const flagged = normOutliers(norms, this.ratio);
    return results.map((u, i) => {
      if (barred[i]) return { code: ErrorCodes.QUARANTINED, reason: `quarantined after ${ledger!.count(senderOf(u))} outlier updates` };
      if (!flagged[i]) return null;
      ledger?.strike(senderOf(u));
      return `update norm ${norms[i].toExponential(3)} above ${this.ratio}× the round's median`;
    });
  }
}
