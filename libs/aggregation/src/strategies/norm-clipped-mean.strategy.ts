import { DuelError, ErrorCodes, globalNorm } from '@duel/util';
import { assertStalenessMode, sampleWeightedMean, type StalenessMode } from '../staleness';
import { BaseStrategy, type BaseStrategyOptions, type ClientUpdate, type Combined } from '../strategy';

export interface NormClippedMeanOptions extends BaseStrategyOptions {
  /**
   * Largest global L2 norm an update may contribute with. Default: adaptive,
   * the median of this round's update norms, so honest updates of typical size
   * pass almost untouched while one huge update is cut down to that size.
   */
  maxNorm?: number;
  /** Discount for stale updates, as in the mean strategy; default 'inverse'. */
  staleness?: StalenessMode;
}

/**
 * Norm bounding then FedAvg: each update is scaled down to at most `maxNorm`
 * before the sample-weighted mean (Sun, Kairouz, Suresh & McMahan, 2019, "Can
 * you really backdoor federated learning?"). It does not remove a bad update,
 * it bounds what one can do: at most maxNorm·s_i/Σs of displacement.
 * The inputs are not modified; clipping is folded into the mean's weights.
 */
export class NormClippedMeanStrategy extends BaseStrategy {
  readonly name = 'norm-clipped-mean';
  override readonly paper = 'Sun et al. 2019, Can You Really Backdoor Federated Learning?';
  readonly maxNorm?: number;
  private readonly mode: StalenessMode;

  constructor(options: NormClippedMeanOptions = {}) {
    super(options);
    if (options.maxNorm !== undefined && !(Number.isFinite(options.maxNorm) && options.maxNorm > 0)) {
      throw new DuelError(ErrorCodes.BAD_ARGUMENT, `norm-clipped-mean: maxNorm must be > 0, got ${options.maxNorm}`);
    }
    this.maxNorm = options.maxNorm;
    this.mode = assertStalenessMode(options.staleness ?? 'inverse');
  }

  protected combine(updates: readonly ClientUpdate[]): Combined {
    const norms = updates.map((u) => globalNorm(u.grads));
    const bound = this.maxNorm ?? median(norms);
    const factors = norms.map((n) => (n > bound ? bound / n : 1));
    return { grads: sampleWeightedMean(updates, this.mode, factors) };
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 === 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}
