import { DuelError, ErrorCodes } from '@duel/util';
import { BASE_OPTION_KEYS, type AggregationStrategy } from './strategy';
import { KrumStrategy, type KrumOptions } from './strategies/krum.strategy';
import { MeanStrategy, type MeanOptions } from './strategies/mean.strategy';
import { MedianStrategy } from './strategies/median.strategy';
import { NormClippedMeanStrategy, type NormClippedMeanOptions } from './strategies/norm-clipped-mean.strategy';
import { TrimmedMeanStrategy, type TrimmedMeanOptions } from './strategies/trimmed-mean.strategy';

/** Every option any strategy takes; each strategy accepts only its own keys (see {@link STRATEGIES}). */
export type StrategyOptions = MeanOptions & TrimmedMeanOptions & NormClippedMeanOptions & KrumOptions;

interface Entry {
  create: (options: StrategyOptions) => AggregationStrategy;
  /** Option keys beyond the base ones (specs, acceptFailures, minUpdates). */
  options: readonly (keyof StrategyOptions)[];
}

/** The registry: one line per strategy file. The first is the default. */
const STRATEGIES = {
  mean: { create: (o) => new MeanStrategy(o), options: ['staleness'] },
  median: { create: (o) => new MedianStrategy(o), options: [] },
  'trimmed-mean': { create: (o) => new TrimmedMeanStrategy(o), options: ['beta'] },
  'norm-clipped-mean': { create: (o) => new NormClippedMeanStrategy(o), options: ['maxNorm', 'staleness'] },
  krum: { create: (o) => new KrumStrategy(o), options: ['byzantine', 'keep', 'staleness'] },
} as const satisfies Record<string, Entry>;

export type StrategyName = keyof typeof STRATEGIES;

/** The known strategy names, default first. */
export const STRATEGY_NAMES = Object.keys(STRATEGIES) as StrategyName[];

export const DEFAULT_STRATEGY: StrategyName = 'mean';

export function isStrategyName(name: string): name is StrategyName {
  return Object.prototype.hasOwnProperty.call(STRATEGIES, name);
}

/**
 * Builds a strategy by name, e.g. from a run config. Unknown names and option
 * keys the strategy does not take are rejected up front (BAD_ARGUMENT, listing
 * what is allowed), so a typo in a config fails at start-up, not mid-run.
 */
export function createStrategy(name: string, options: StrategyOptions = {}): AggregationStrategy {
  if (!isStrategyName(name)) {
    throw new DuelError(
      ErrorCodes.BAD_ARGUMENT,
      `unknown aggregation strategy "${name}"; known: ${STRATEGY_NAMES.join(', ')}`,
      { name, known: STRATEGY_NAMES },
    );
  }
  const entry: Entry = STRATEGIES[name];
  const allowed = new Set<string>([...BASE_OPTION_KEYS, ...entry.options]);
  const unknown = Object.keys(options).filter((k) => !allowed.has(k) && options[k as keyof StrategyOptions] !== undefined);
  if (unknown.length > 0) {
    throw new DuelError(
      ErrorCodes.BAD_ARGUMENT,
      `strategy "${name}" does not take option(s) ${unknown.join(', ')}; it takes: ${[...allowed].join(', ')}`,
      { name, unknown, allowed: [...allowed] },
    );
  }
  return entry.create(options);
}
