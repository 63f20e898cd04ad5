import { DuelError, ErrorCodes } from '@duel/util';
import { krumScores, pairwiseSquaredDistances } from '../kernels';
import { assertStalenessMode, sampleWeightedMean, type StalenessMode } from '../staleness';
import { BaseStrategy, type BaseStrategyOptions, type ClientUpdate, type Combined } from '../strategy';

export interface KrumOptions extends BaseStrategyOptions {
  /**
   * f, the number of Byzantine workers to tolerate; default 1. Krum's
   * guarantee needs n ≥ 2f + 3 updates; with fewer, f is still used (capped at
   * n − 2) as a best effort.
   */
  byzantine?: number;
  /** m, how many of the best-scored updates to average; default n − f (multi-Krum). 1 is plain Krum. */
  keep?: number;
  /** Discount for stale updates among the kept ones, as in the mean strategy; default 'inverse'. */
  staleness?: StalenessMode;
}

/**
 * Multi-Krum (Blanchard, El Mhamdi, Guerraoui & Stainer, 2017, "Machine
 * learning with adversaries: Byzantine tolerant gradient descent"). Each
 * update is scored by the summed squared distance to its n − f − 2 nearest
 * others; the m lowest-scored are averaged (sample-weighted), the rest are
 * rejected as DUEL_ERR_OUTLIER (updates tied with the last kept one are kept).
 * Krum's guarantee needs n ≥ 2f + 3.
 */
export class KrumStrategy extends BaseStrategy {
  readonly name = 'krum';
  override readonly paper = 'Blanchard et al. 2017, Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent';
  readonly byzantine: number;
  readonly keep?: number;
  private readonly mode: StalenessMode;

  constructor(options: KrumOptions = {}) {
    super(options);
    const { byzantine = 1, keep } = options;
    if (!(Number.isInteger(byzantine) && byzantine >= 0)) {
      throw new DuelError(ErrorCodes.BAD_ARGUMENT, `krum: byzantine must be an integer >= 0, got ${byzantine}`);
    }
    if (keep !== undefined && !(Number.isInteger(keep) && keep >= 1)) {
      throw new DuelError(ErrorCodes.BAD_ARGUMENT, `krum: keep must be an integer >= 1, got ${keep}`);
    }
    this.byzantine = byzantine;
    this.keep = keep;
    this.mode = assertStalenessMode(options.staleness ?? 'inverse');
  }

  protected combine(updates: readonly ClientUpdate[]): Combined {
    const n = updates.length;
    // Below n = 2f + 3 the guarantee is gone but the ranking still helps, so f is
    // only lowered where it cannot work at all: two updates cannot outvote each other.
    const f = Math.min(this.byzantine, Math.max(0, n - 2));
    const neighbours = Math.min(n - 1, Math.max(1, n - f - 2));
    const keep = Math.min(n, this.keep ?? n - f);
    const scores = krumScores(pairwiseSquaredDistances(updates.map((u) => u.grads)), n, neighbours);
    // Lowest scores first; ties keep input order.
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b);
    // Updates tied with the last kept one are kept too: identical updates are not outliers.
    const cutoff = scores[order[keep - 1]];
    const kept = new Set(order.filter((i) => scores[i] <= cutoff));
    const rejected = order.filter((i) => !kept.has(i)).sort((a, b) => a - b).map((i) => ({
      workerId: updates[i].workerId,
      code: ErrorCodes.OUTLIER,
      reason: `krum score ${scores[i].toExponential(3)} above the cutoff ${cutoff.toExponential(3)} (f=${f}, m=${keep})`,
    }));
    return { grads: sampleWeightedMean(updates.filter((_, i) => kept.has(i)), this.mode), rejected };
  }
}
