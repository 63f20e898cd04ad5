import { coordinateMedian } from '../kernels';
import { BaseStrategy, type BaseStrategyOptions, type ClientUpdate, type Combined } from '../strategy';

/**
 * Coordinate-wise median (Yin, Chen, Ramchandran & Bartlett, 2018,
 * "Byzantine-robust distributed learning: towards optimal statistical rates";
 * Flower's FedMedian). Robust while fewer than half the updates are bad.
 * Sample counts and staleness are ignored: a median has no natural weights.
 */
export class MedianStrategy extends BaseStrategy {
  readonly name = 'median';
  override readonly paper = 'Yin et al. 2018, Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates';

  constructor(options: BaseStrategyOptions = {}) {
    super(options);
  }

  protected combine(updates: readonly ClientUpdate[]): Combined {
    return { grads: coordinateMedian(updates.map((u) => u.grads)) };
  }
}
