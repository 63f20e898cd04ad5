import { DuelError, ErrorCodes } from '@duel/util';
import { createStrategy, type StrategyOptions } from '../create-strategy';
import type { AggregationStrategy } from '../strategy';
import { NormScreenStrategy } from './norm-screen.strategy';

/** A strategy as one string: `name[:key=value]*`, e.g. `trimmed-mean:beta=0.3:screen=10`. */
export interface StrategySpec {
  name: string;
  options: Record<string, number | string>;
  /** `screen=R`: reject updates with a norm above R × the round's median first (see NormScreenStrategy). */
  screen?: number;
}

/** Parses a strategy spec string; numbers become numbers. Throws BAD_ARGUMENT on a malformed spec. */
export function parseStrategySpec(spec: string): StrategySpec {
  const [name, ...pairs] = spec.split(':');
  if (!/^[a-z][a-z-]*$/.test(name)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `strategy spec "${spec}": expected name[:key=value]*`);
  const options: Record<string, number | string> = Object.create(null);
  let screen: number | undefined;
  for (const p of pairs) {
    const m = /^([A-Za-z]+)=([^=:]+)$/.exec(p);
    if (!m) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `strategy spec "${spec}": "${p}" is not key=value`);
    const value = /^-?\d+(\.\d+)?(e-?\d+)?$/.test(m[2]) ? Number(m[2]) : m[2];
    if (m[1] === 'screen') {
      if (typeof value !== 'number') throw new DuelError(ErrorCodes.BAD_ARGUMENT, `strategy spec "${spec}": screen must be a number`);
      screen = value;
    } else options[m[1]] = value;
  }
  return { name, options: { ...options }, ...(screen !== undefined ? { screen } : {}) };
}

/** Builds the strategy a spec string names (createStrategy checks the name and option keys). */
export function createStrategyFromSpec(spec: string, base: StrategyOptions = {}): AggregationStrategy {
  const s = parseStrategySpec(spec);
  const strategy = createStrategy(s.name, { ...base, ...(s.options as StrategyOptions) });
  return s.screen !== undefined ? new NormScreenStrategy(strategy, s.screen) : strategy;
}
