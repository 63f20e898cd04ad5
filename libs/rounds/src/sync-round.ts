import { planTasks, taskSeed, type RunConfig } from '@duel/trainer';
import { refreshPending } from './validated-shards';
import type { ResolvedRoundConfig, RoundConfig, RoundPosition, RoundRunFields, RoundState, SyncRound, WorkerRecord } from './types';

/**
 * Shard count for a round. A number is used as is. 'auto' is one shard per
 * present worker, raised until every shard fits the smallest `maxBatch`
 * among them (so a small volunteer still gets work), and capped at
 * batchSize/pack: a shard is at least one PacGAN pack.
 */
export function shardCount(
  shards: RoundConfig['shards'],
  cfg: Pick<RoundRunFields, 'batchSize' | 'pack'>,
  workers: readonly Pick<WorkerRecord, 'maxBatch'>[],
): number {
  if (shards !== 'auto') return shards;
  const units = cfg.batchSize / cfg.pack;
  const minMax = Math.min(...workers.map((w) => w.maxBatch));
  const packsPerShard = Math.floor(minMax / cfg.pack);
  const toFit = packsPerShard >= 1 ? Math.ceil(units / packsPerShard) : units;
  return Math.max(1, Math.min(units, Math.max(workers.length, toFit)));
}

/**
 * Opens the round at `pos`: the tasks are exactly planTasks(cfg, phase, step,
 * sub, numShards) of the local reference trainer, each with its taskSeed.
 */
export function openRound(cfg: ResolvedRoundConfig, pos: RoundPosition, numShards: number, now: number): SyncRound {
  // planTasks reads only batchSize and pack of the RunConfig, both present here.
  const specs = planTasks(cfg.run as RunConfig, pos.phase, pos.step, pos.sub, numShards);
  return {
    ...pos,
    numShards,
    openedAt: now,
    deadline: now + cfg.taskTimeoutMs,
    shards: specs.map((spec) => ({ spec, seed: taskSeed(cfg.run.seed, spec), attempts: 0, result: null })),
    pending: specs.map((_, i) => i),
    attempts: new Map(),
  };
}

/** Shards with a result so far. */
export function answered(round: SyncRound): number {
  let n = 0;
  for (const s of round.shards) if (s.result) n++;
  return n;
}

/** ceil(quorum × n), at least 1; the epsilon keeps 0.7 × 10 at 7, not 8. */
export function quorumNeeded(quorum: number, numShards: number): number {
  return Math.max(1, Math.ceil(quorum * numShards - 1e-9));
}

/**
 * Puts a shard back in the pending queue (ascending order) when nobody can
 * still answer it: no result yet, not already pending, and every attempt is
 * expired or lost (its worker left or moved on).
 */
export function requeueIfOrphaned(st: RoundState, round: SyncRound, shard: number): void {
  const s = round.shards[shard];
  if (s.votes) return refreshPending(st, round, shard);
  if (s.result || round.pending.includes(shard)) return;
  for (const a of round.attempts.values()) {
    if (a.task.shard === shard && !a.expired && st.workers.get(a.workerId)?.task === a.taskId) return;
  }
  let i = 0;
  while (i < round.pending.length && round.pending[i] < shard) i++;
  round.pending.splice(i, 0, shard);
}
