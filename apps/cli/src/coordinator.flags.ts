import { defaultCoordinatorOptions, type CoordinatorOptions } from '@duel/coordinator';
import { createStrategyFromSpec } from '@duel/aggregation';
import { parseCodecSpec } from '@duel/protocol';
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
  codec: { type: 'string' },
  'codec-volunteer': { type: 'string' },
  'strategy-volunteer': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  'checkpoint-secs': { type: 'string' },
  'data-dir': { type: 'string' },
  redis: { type: 'string' },
  'store-prefix': { type: 'string' },
  resume: { type: 'boolean' },
  // `--validate-volunteers` (default tolerance) or `--validate-volunteers=TOL` (args.ts `bare`).
  'validate-volunteers': { type: 'string', bare: '' },
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
    ...strategiesFrom(s('strategy'), s('strategy-volunteer')),
    codec: s('codec') === undefined ? undefined : parseCodecSpec(s('codec')!),
    codecVolunteer: s('codec-volunteer') === undefined ? undefined : parseCodecSpec(s('codec-volunteer')!),
    validation: validationFrom(s('validate-volunteers'), mode, s('codec'), s('codec-volunteer')),
    ...storeFrom(a),
    workerToken: process.env.DUEL_WORKER_TOKEN || undefined,
    adminToken: process.env.DUEL_ADMIN_TOKEN || undefined,
    sessionSecret: process.env.DUEL_SESSION_SECRET || undefined,
    volunteerInvite: process.env.DUEL_VOLUNTEER_INVITE || undefined,
    ...over,
  });
}

/**
 * `--validate-volunteers[=TOL]`: validation by redundancy of volunteers'
 * results (README, Security), sync mode and fp32 gradients only. TOL is the
 * relative L2 distance two replicas may differ by; empty: the default.
 */
export function validationFrom(flag: string | undefined, mode: string | undefined, codec: string | undefined, codecVolunteer?: string): CoordinatorOptions['validation'] {
  if (flag === undefined) return undefined;
  const bad = (why: string): never => {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `--validate-volunteers: ${why}`);
  };
  if (mode === 'async') bad('needs --mode sync (async applies each result alone, on arrival)');
  if (codec !== undefined && parseCodecSpec(codec).name !== 'fp32') bad(`needs --codec fp32, not ${codec} (lossy codecs make honest replicas differ)`);
  if (codecVolunteer !== undefined && parseCodecSpec(codecVolunteer).name !== 'fp32') bad(`needs --codec-volunteer fp32, not ${codecVolunteer} (lossy codecs make honest replicas differ)`);
  if (flag === '') return {};
  const tolerance = num(flag, 'validate-volunteers')!;
  if (!(tolerance >= 0)) bad(`the tolerance must be a number ≥ 0, got "${flag}"`);
  return { tolerance };
}

function positive(n: number, flag: string): number {
  if (!Number.isInteger(n) || n < 1) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `--${flag} must be a positive integer`);
  return n;
}

/**
 * `--strategy SPEC` (every kind), `--strategy node=SPEC,volunteer=SPEC` (per
 * kind), and `--strategy-volunteer SPEC` (volunteers only). A SPEC is a
 * strategy name with options, e.g. `trimmed-mean:beta=0.3`; it is checked here
 * so a typo fails at start-up.
 */
export function strategiesFrom(flag: string | undefined, volunteerFlag: string | undefined): { strategy?: string; strategyVolunteer?: string } {
  let node: string | undefined;
  let volunteer: string | undefined;
  if (flag !== undefined && /^(node|volunteer)=/.test(flag)) {
    for (const part of flag.split(',')) {
      const m = /^(node|volunteer)=(.+)$/.exec(part);
      if (!m) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `--strategy: expected SPEC or node=SPEC,volunteer=SPEC, got "${flag}"`);
      if (m[1] === 'node') node = m[2];
      else volunteer = m[2];
    }
  } else {
    node = flag;
  }
  if (volunteerFlag !== undefined) volunteer = volunteerFlag;
  for (const spec of [node, volunteer]) if (spec !== undefined) createStrategyFromSpec(spec);
  return { strategy: node, strategyVolunteer: volunteer };
}

/**
 * The state store (libs/store): `--redis URL` / REDIS_URL, else the embedded
 * store with checkpoint files under `--data-dir` / DUEL_DATA_DIR (memory only
 * when neither is set). With a persistent store and no interval given,
 * checkpoints are taken every 30 s. `--resume` continues the store's last
 * checkpoint; `duel coordinator` also resumes on its own when the store holds
 * a running run (over.resume = 'auto').
 */
function storeFrom(a: Values): Partial<CoordinatorOptions> {
  const s = (k: keyof typeof coordinatorFlags) => a[k] as string | undefined;
  const redisUrl = s('redis') ?? (process.env.REDIS_URL || undefined);
  const dataDir = s('data-dir') ?? (process.env.DUEL_DATA_DIR || undefined);
  const every = num(s('checkpoint-every'), 'checkpoint-every');
  const secs = num(s('checkpoint-secs'), 'checkpoint-secs');
  if (every !== undefined && !(Number.isInteger(every) && every >= 0)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `--checkpoint-every must be an integer ≥ 0, got ${every}`);
  if (secs !== undefined && !(secs >= 0)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `--checkpoint-secs must be ≥ 0, got ${secs}`);
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `--redis must be a redis:// or rediss:// URL`);
  const persistent = redisUrl !== undefined || dataDir !== undefined;
  return {
    checkpointEvery: every,
    checkpointSecs: secs ?? (persistent && every === undefined ? 30 : undefined),
    store: { redisUrl, dataDir, prefix: s('store-prefix') },
    resume: a.resume === true ? true : undefined,
  };
}
