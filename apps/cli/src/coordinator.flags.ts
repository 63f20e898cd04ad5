import { defaultCoordinatorOptions, type CoordinatorOptions } from '@duel/coordinator';
import { resolveRunConfig } from '@duel/trainer';
import { DuelError, ErrorCodes } from '@duel/util';
import { num } from './args';
import { runConfigFlags, runConfigFrom } from './run-config.flags';

/** Flags of every command that runs a coordinator. */
export const coordinatorFlags = {
  ...runConfigFlags,
  port: { type: 'string' },
  host: { type: 'string' },
  mode: { type: 'string' },
  shards: { type: 'string' },
  staleness: { type: 'string' },
  quorum: { type: 'string' },
  'task-timeout': { type: 'string' },
  strategy: { type: 'string' },
  'checkpoint-every': { type: 'string' },
} as const;

type Values = Partial<Record<keyof typeof coordinatorFlags, string | boolean | undefined>>;

/** Builds validated coordinator options from flags and the environment (PORT, DUEL_WORKER_TOKEN). */
export function coordinatorOptionsFrom(a: Values, over: Partial<CoordinatorOptions> = {}): CoordinatorOptions {
  const s = (k: keyof typeof coordinatorFlags) => a[k] as string | undefined;
  const run = resolveRunConfig(runConfigFrom(a));
  const mode = s('mode');
  if (mode !== undefined && mode !== 'sync' && mode !== 'async') throw new DuelError(ErrorCodes.BAD_ARGUMENT, `--mode must be sync or async, got "${mode}"`);
  const shards = s('shards');
  const port = num(s('port'), 'port') ?? num(process.env.PORT, 'PORT (env)');
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `port must be in 0..65535, got ${port}`);
  const quorum = num(s('quorum'), 'quorum');
  if (quorum !== undefined && !(quorum > 0 && quorum <= 1)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `--quorum must be in (0, 1], got ${quorum}`);
  return defaultCoordinatorOptions(run, {
    port,
    host: s('host'),
    mode: mode as CoordinatorOptions['mode'] | undefined,
    shards: shards === undefined || shards === 'auto' ? undefined : positive(num(shards, 'shards')!, 'shards'),
    staleness: num(s('staleness'), 'staleness'),
    quorum,
    taskTimeoutMs: num(s('task-timeout'), 'task-timeout'),
    strategy: s('strategy'),
    checkpointEvery: num(s('checkpoint-every'), 'checkpoint-every'),
    workerToken: process.env.DUEL_WORKER_TOKEN || undefined,
    ...over,
  });
}

function positive(n: number, flag: string): number {
  if (!Number.isInteger(n) || n < 1) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `--${flag} must be a positive integer`);
  return n;
}
