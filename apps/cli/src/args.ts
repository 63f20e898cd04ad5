import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DuelError, ErrorCodes } from '@duel/util';

/** Parses argv for one subcommand; unknown flags are a DUEL_ERR_BAD_ARGUMENT, not a silent no-op. */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values;
  } catch (e) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, (e as Error).message);
  }
}

export function num(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `--${flag} must be a number, got "${v}"`);
  return n;
}
