import { assertStalenessMode } from '@duel/aggregation';
import { DuelError, ErrorCodes } from '@duel/util';
import { compareSchedule, RESOLVED_MEMORY } from './effects';
import { taskIdOf } from './schedule';
import type { AsyncRetry, ResolvedRoundConfig, RestoredRounds, RoundConfig, RoundState, StartPosition, ValidationConfig } from './types';

const bad = (field: string, why: string): never => {
  throw new DuelError(ErrorCodes.BAD_ARGUMENT, `round config ${field}: ${why}`, { field });
};

const isInt = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

function checkStart(start: StartPosition, k: number): void {
  if (!isInt(start.step, 1)) bad('start.step', `must be an integer ≥ 1, got ${start.step}`);
  if (start.phase !== 'D' && start.phase !== 'G') bad('start.phase', `must be D or G, got ${String(start.phase)}`);
  const maxSub = start.phase === 'D' ? k - 1 : 0;
  if (!isInt(start.sub, 0) || start.sub > maxSub) bad('start.sub', `must be in 0..${maxSub} for phase ${start.phase}, got ${start.sub}`);
  if (!isInt(start.versions?.g, 0) || !isInt(start.versions?.d, 0)) bad('start.versions', 'g and d must be integers ≥ 0');
}

/** Fills defaults and validates; a bad value throws DUEL_ERR_BAD_ARGUMENT naming the field. */
export function resolveRoundConfig(config: RoundConfig): ResolvedRoundConfig {
  const c = config;
  if (c.mode !== 'sync' && c.mode !== 'async') bad('mode', `must be sync or async, got ${String(c.mode)}`);
  const r = c.run ?? bad('run', 'missing (seed, steps, k, batchSize, pack of the RunConfig)');
  if (!isInt(r.seed, 0)) bad('run.seed', `must be an integer ≥ 0, got ${r.seed}`);
  if (!isInt(c.checkpointEvery, 0)) bad('checkpointEvery', `must be an integer ≥ 0, got ${c.checkpointEvery}`);
  if (c.checkpointEveryMs !== undefined && !(typeof c.checkpointEveryMs === 'number' && c.checkpointEveryMs >= 0)) {
    bad('checkpointEveryMs', `must be a number ≥ 0, got ${String(c.checkpointEveryMs)}`);
  }
  for (const f of ['steps', 'k', 'batchSize', 'pack'] as const) if (!isInt(r[f], 1)) bad(`run.${f}`, `must be an integer ≥ 1, got ${r[f]}`);
  if (r.batchSize % r.pack !== 0) bad('run.batchSize', `must be a multiple of pack=${r.pack}`);
  if (c.shards !== 'auto' && !(isInt(c.shards, 1) && c.shards <= r.batchSize / r.pack)) {
    bad('shards', `must be 'auto' or an integer in 1..${r.batchSize / r.pack} (batchSize/pack), got ${String(c.shards)}`);
  }
  if (!isInt(c.staleness, 0)) bad('staleness', `must be an integer ≥ 0, got ${c.staleness}`);
  if (!(typeof c.taskTimeoutMs === 'number' && c.taskTimeoutMs > 0)) bad('taskTimeoutMs', `must be > 0, got ${c.taskTimeoutMs}`);
  if (!(typeof c.quorum === 'number' && c.quorum > 0 && c.quorum <= 1)) bad('quorum', `must be in (0, 1], got ${c.quorum}`);
  const s = c.strategy as unknown as Record<string, unknown> | undefined;
  const hasAggregate = (x: unknown) => typeof (x as { aggregate?: unknown } | undefined)?.aggregate === 'function';
  if (!(hasAggregate(s) || (hasAggregate(s?.node) && hasAggregate(s?.volunteer)))) {
    bad('strategy', 'must be an AggregationStrategy or { node, volunteer } of them');
  }
  const start: StartPosition = c.start ? { ...c.start, versions: { ...c.start.versions } } : { phase: 'D', step: 1, sub: 0, versions: { g: 0, d: 0 } };
  checkStart(start, r.k);
  const minWorkers = c.minWorkers ?? 1;
  if (!isInt(minWorkers, 1)) bad('minWorkers', `must be an integer ≥ 1, got ${minWorkers}`);
  const waitRetryMs = c.waitRetryMs ?? 1000;
  if (!(typeof waitRetryMs === 'number' && waitRetryMs >= 0)) bad('waitRetryMs', `must be ≥ 0, got ${waitRetryMs}`);
  const validation = c.validation === undefined ? undefined : resolveValidation(c.validation, c.mode);
  const { validation: _raw, ...rest } = c;
  return { ...rest, stalenessMode: assertStalenessMode(c.stalenessMode ?? 'inverse'), start, minWorkers, waitRetryMs, ...(validation ? { validation } : {}) };
}

/** Most replicas of one shard a run may ask for: each costs a whole volunteer task. */
const MAX_REPLICAS = 16;

function resolveValidation(v: RoundConfig['validation'] & object, mode: RoundConfig['mode']): Required<ValidationConfig> {
  // Async applies every result on arrival, alone: there is no round in which replicas could meet.
  if (mode !== 'sync') bad('validation', 'needs mode sync');
  const replicas = v.replicas ?? 2;
  if (!isInt(replicas, 2) || replicas > MAX_REPLICAS) bad('validation.replicas', `must be an integer in 2..${MAX_REPLICAS}, got ${String(v.replicas)}`);
  if (!(typeof v.tolerance === 'number' && Number.isFinite(v.tolerance) && v.tolerance >= 0)) bad('validation.tolerance', `must be a finite number ≥ 0, got ${String(v.tolerance)}`);
  const maxReplicas = v.maxReplicas ?? replicas + 2;
  if (!isInt(maxReplicas, replicas) || maxReplicas > MAX_REPLICAS) bad('validation.maxReplicas', `must be an integer in ${replicas}..${MAX_REPLICAS}, got ${String(v.maxReplicas)}`);
  return { replicas, tolerance: v.tolerance, maxReplicas };
}

/**
 * A fresh machine at the config's start position; no worker present, nothing
 * issued. A resumed run passes its checkpoint's `next` as config.start and its
 * `resolved` list here, so results of tasks consumed before the checkpoint are
 * still answered 'duplicate' (never applied again); and, async, its `pending`
 * list, whose positions are issued again (in that order) before the cursor
 * moves on, so the positions in flight or waiting at the checkpoint are not
 * lost. Each is issued under its recorded attempt number, above that of
 * every attempt before the checkpoint, so a late result of an old attempt is
 * unknown to the resumed machine and refused. A restart is not a failure of
 * the position: a restored one is issued once more even when its attempt
 * number has reached ASYNC_MAX_ATTEMPTS (it gets no further re-issue if that
 * attempt fails too), so each restart adds at most one attempt per position.
 */
export function createRoundState(config: RoundConfig, restored: RestoredRounds = {}): RoundState {
  const cfg = resolveRoundConfig(config);
  const { phase, step, sub, versions } = cfg.start;
  return {
    config: cfg,
    now: 0,
    versions: { ...versions },
    position: { phase, step, sub },
    // A start at step s, D sub 0 follows s − 1 completed steps.
    lastGStep: step - 1,
    lastCheckpointStep: step - 1,
    lastCheckpointAt: null,
    started: false,
    paused: false,
    shutdown: false,
    complete: false,
    workers: new Map(),
    round: null,
    async: { cursor: { phase, step, sub }, outstanding: new Map(), retry: restoredPending(restored, cfg) },
    resolved: restoredOutcomes(restored),
  };
}

function restoredOutcomes(restored: RestoredRounds): RoundState['resolved'] {
  const out: RoundState['resolved'] = new Map();
  for (const entry of restored.resolved ?? []) {
    const [taskId, outcome] = Array.isArray(entry) ? entry : [];
    if (typeof taskId !== 'string' || (outcome !== 'consumed' && outcome !== 'closed')) return bad('restored.resolved', `bad entry ${JSON.stringify(entry)}`);
    out.delete(taskId);
    out.set(taskId, outcome);
  }
  // Keep the newest RESOLVED_MEMORY, as the running machine would.
  for (const k of [...out.keys()].slice(0, Math.max(0, out.size - RESOLVED_MEMORY))) out.delete(k);
  return out;
}

/**
 * The checkpoint's async positions to issue again, validated: each a position
 * of the schedule (phase D or G, sub in range for k) before the start cursor,
 * at most once, with an attempt number ≥ 1 (it was issued at least once, and
 * its next task id must differ from every earlier one); sorted into schedule
 * order. Sync: none may be given.
 */
function restoredPending(restored: RestoredRounds, cfg: ResolvedRoundConfig): AsyncRetry[] {
  const given = restored.pending ?? [];
  if (!Array.isArray(given)) return bad('restored.pending', 'must be an array of { pos, attempt }');
  if (given.length > 0 && cfg.mode !== 'async') return bad('restored.pending', 'only an async run has positions to issue again');
  const k = cfg.run.k;
  const out: AsyncRetry[] = [];
  const seen = new Set<string>();
  for (const entry of given as readonly unknown[]) {
    const e = entry as Partial<AsyncRetry> | null;
    const p = e?.pos;
    const ok =
      isInt(e?.attempt, 1) &&
      p !== undefined &&
      p !== null &&
      (p.phase === 'D' || p.phase === 'G') &&
      isInt(p.step, 1) &&
      isInt(p.sub, 0) &&
      p.sub <= (p.phase === 'D' ? k - 1 : 0) &&
      compareSchedule(p, cfg.start) < 0;
    if (!ok) return bad('restored.pending', `bad entry ${JSON.stringify(entry)} (a position of the schedule for k=${k} before the start, attempt ≥ 1)`);
    const key = taskIdOf(p, 0, 0);
    if (seen.has(key)) return bad('restored.pending', `position ${key} given twice`);
    seen.add(key);
    out.push({ pos: { phase: p.phase, step: p.step, sub: p.sub }, attempt: e.attempt as number });
  }
  return out.sort((a, b) => compareSchedule(a.pos, b.pos));
}
