import { DuelError, ErrorCodes } from '@duel/util';
import { createStrategy, type StrategyOptions } from '../create-strategy';
import type { AggregationStrategy } from '../strategy';
import { HistoryScreenStrategy } from './history-screen.strategy';
import { NormScreenStrategy } from './norm-screen.strategy';

/** A strategy as one string: `name[:key=value]*`, e.g. `trimmed-mean:beta=0.3:screen=10:strikes=3`. */
export interface StrategySpec {
  name: string;
  options: Record<string, number | string>;
  /** `screen=R`: reject updates with a norm above R × the round's median first (see NormScreenStrategy). */
  screen?: number;
  /** `history=T[:forget=λ]`: reject workers whose drift score is above T (see HistoryScreenStrategy). */
  history?: number;
  forget?: number;
  /** `strikes=S` (with screen=R): quarantine a worker after S of its updates failed the norm screen. */
  strikes?: number;
}

/** Keys that wrap the strategy rather than configure it. */
const WRAPPERS = ['screen', 'history', 'forget', 'strikes'] as const;

/** Parses a strategy spec string; numbers become numbers. Throws BAD_ARGUMENT on a malformed spec. */
export function parseStrategySpec(spec: string): StrategySpec {
  const [name, ...pairs] = spec.split(':');
  if (!/^[a-z][a-z-]*$/.test(name)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `strategy spec "${spec}": expected name[:key=value]*`);
  const options: Record<string, number | string> = Object.create(null);
  const wrap: Partial<Record<(typeof WRAPPERS)[number], number>> = {};
  for (const p of pairs) {
    const m = /^([A-Za-z]+)=([^=:]+)$/.exec(p);
    if (!m) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `strategy spec "${spec}": "${p}" is not key=value`);
    const value = /^-?\d+(\.\d+)?(e-?\d+)?$/.test(m[2]) ? Number(m[2]) : m[2];
    const key = m[1] as (typeof WRAPPERS)[number];
    if (WRAPPERS.includes(key)) {
      if (typeof value !== 'number') throw new DuelError(ErrorCodes.BAD_ARGUMENT, `strategy spec "${spec}": ${key} must be a number`);
      wrap[key] = value;
    } else options[m[1]] = value;
  }
  if (wrap.forget !== undefined && wrap.history === undefined) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `strategy spec "${spec}": forget only goes with history=T`);
  }
  if (wrap.strikes !== undefined && wrap.screen === undefined) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `strategy spec "${spec}": strikes only goes with screen=R`);
  }
  return { name, options: { ...options }, ...wrap };
}

/** Builds the strategy a spec string names (createStrategy checks the name and option keys). */
export function createStrategyFromSpec(spec: string, base: StrategyOptions = {}): AggregationStrategy {
  const s = parseStrategySpec(spec);
  const strategy = createStrategy(s.name, { ...base, ...(s.options as StrategyOptions) });
  // The norm screen runs first, so the updates it drops never enter the history.
  const history = s.history !== undefined ? new HistoryScreenStrategy(strategy, { threshold: s.history, forget: s.forget }) : strategy;
  return s.screen !== undefined ? new NormScreenStrategy(history, s.screen, s.strikes) : history;
}
