import { BaseStrategy, type BaseStrategyOptions, type ClientUpdate, type Combined } from '../strategy';
import { assertStalenessMode, sampleWeightedMean, type StalenessMode } from '../staleness';

export interface MeanOptions extends BaseStrategyOptions {
  /** Discount for stale updates; default 'inverse' (1/(1+τ)), a no-op for synchronous rounds. */
  staleness?: StalenessMode;
}

/**
 * FedAvg: the sample-count-weighted mean of the updates (McMahan et al., 2017,
 * "Communication-efficient learning of deep networks from decentralized
 * data"). The default strategy: with synchronous rounds and equal shards it is
 * exactly the large-batch gradient the local reference trainer computes.
 * Not robust: one bad update moves the mean arbitrarily far.
 */
export class MeanStrategy extends BaseStrategy {
  readonly name = 'mean';
  override readonly paper = 'McMahan et al. 2017, Communication-Efficient Learning of Deep Networks from Decentralized Data';
  private readonly mode: StalenessMode;

  constructor(options: MeanOptions = {}) {
    super(options);
    this.mode = assertStalenessMode(options.staleness ?? 'inverse');
  }

  protected combine(updates: readonly ClientUpdate[]): Combined {
    return { grads: sampleWeightedMean(updates, this.mode) };
  }
}
