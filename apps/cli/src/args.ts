import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DuelError, ErrorCodes } from '@duel/util';

/**
 * Parses argv for one subcommand; unknown flags are a DUEL_ERR_BAD_ARGUMENT, not a silent no-op.
 * A string option with `bare: VALUE` may also be given without a value (`--flag` means `--flag=VALUE`;
 * a value then needs the `=` form), which node's parseArgs cannot express.
 */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  const bare = new Map<string, string>();
  for (const [name, o] of Object.entries(options)) {
    const value = (o as { bare?: unknown }).bare;
    if (o.type === 'string' && typeof value === 'string') bare.set(`--${name}`, `--${name}=${value}`);
  }
  const args = argv.map((a, i) => {
    const next = argv[i + 1];
    if (bare.has(a) && next !== undefined && !next.startsWith('-')) {
      throw new DuelError(ErrorCodes.BAD_ARGUMENT, `${a} takes a value only as ${a}=VALUE, got "${a} ${next}"`);
    }
    return bare.get(a) ?? a;
  });
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values;
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
