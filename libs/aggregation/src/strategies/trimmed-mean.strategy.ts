import { trimCount, trimmedMean } from '../kernels';
import { BaseStrategy, type BaseStrategyOptions, type ClientUpdate, type Combined } from '../strategy';

export interface TrimmedMeanOptions extends BaseStrategyOptions {
  /** Fraction dropped from each end per coordinate, in [0, 0.5); default 0.1. At least one value is dropped when beta > 0. */
  beta?: number;
}

/**
 * Coordinate-wise β-trimmed mean (Yin, Chen, Ramchandran & Bartlett, 2018;
 * Flower's FedTrimmedAvg): per coordinate, drop the ⌊β·n⌋ largest and smallest
 * values (at least one for β > 0; kernels.ts `trimCount`) and average the rest.
 * Robust to up to ⌊β·n⌋ bad updates, i.e. a share of at most β; sample
 * counts and staleness are ignored, as for the median.
 */
export class TrimmedMeanStrategy extends BaseStrategy {
  readonly name = 'trimmed-mean';
  override readonly paper = 'Yin et al. 2018, Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates';
  readonly beta: number;

  constructor(options: TrimmedMeanOptions = {}) {
    super(options);
    this.beta = options.beta ?? 0.1;
    trimCount(1, this.beta); // validates beta now rather than mid-run
  }

  protected combine(updates: readonly ClientUpdate[]): Combined {
    return { grads: trimmedMean(updates.map((u) => u.grads), this.beta) };
  }
}
