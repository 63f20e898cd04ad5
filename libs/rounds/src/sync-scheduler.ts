import { ErrorCodes } from '@duel/util';
import { aggregateResults, roundMetrics, type ShardFailure } from './aggregate-round';
import { RoundErrorCodes } from './codes';
import { ack, answerUnknown, applyUpdate, checkpointIfDue, rejectByStrategy, resolve, sendTask } from './effects';
import { nextPosition, pastEnd, sameVersions, taskIdOf, topKField } from './schedule';
import { answered, openRound, quorumNeeded, requeueIfOrphaned, shardCount } from './sync-round';
import type { Attempt, ResultReceivedEvent, RoundCommand, RoundState, SyncRound, WorkerRecord } from './types';
import { acceptedOf, noteReplica, partnersOf, pickShard, refreshPending, shardWorkers, undecided, validating, voteResult } from './validated-shards';

/**
 * Synchronous rounds: one round = one update (phase, step, sub) of the
 * schedule, split into numShards tasks from planTasks. The round closes when
 * every shard has a result (or, with quorum < 1, at the deadline once enough
 * have); the strategy combines them; the update is applied and broadcast; the
 * next round opens. With the mean strategy this is the local trainer's
 * large-batch gradient, bit for bit.
 */

/** Opens the next round if one is due, then gives pending shards to idle workers in join order (benched ones get none). */
export function syncDispatch(st: RoundState, out: RoundCommand[]): void {
  if (st.paused || st.shutdown || st.complete || !st.started) return;
  const v = validating(st);
  if (!st.round && !pastEnd(st.position, st.config.run.steps) && st.workers.size > 0) {
    st.round = openRound(st.config, st.position, shardCount(st.config.shards, st.config.run, v ? shardWorkers(st) : [...st.workers.values()]), st.now);
  }
  const round = st.round;
  if (!round) return;
  for (const w of st.workers.values()) {
    if (w.task !== null || w.benched || round.pending.length === 0) continue;
    // A worker takes the first pending shard that fits its maxBatch (and, validating, that it may compute).
    const i = v ? pickShard(st, round, w) : round.pending.findIndex((shard) => round.shards[shard].spec.batch <= w.maxBatch);
    if (i < 0) continue;
    const [shard] = round.pending.splice(i, 1);
    if (v) noteReplica(round, shard, w);
    sendAttempt(st, out, round, w, shard);
    // A volunteer shard stays pending until all its replicas are out.
    if (v) refreshPending(st, round, shard);
  }
}

function sendAttempt(st: RoundState, out: RoundCommand[], round: SyncRound, w: WorkerRecord, shard: number): void {
  const s = round.shards[shard];
  const taskId = taskIdOf(round, shard, s.attempts++);
  const task = { ...s.spec, taskId, seed: s.seed, versions: { ...st.versions }, deadlineMs: st.config.taskTimeoutMs, ...topKField(st.config.run, s.spec) };
  round.attempts.set(taskId, { taskId, workerId: w.id, kind: w.kind, task, deadline: st.now + st.config.taskTimeoutMs, expired: false });
  sendTask(out, w, task);
}

/**
 * A result: accepted when its taskId is an attempt of the open round sent to
 * this worker, at the round's versions, for a shard with no result yet. The
 * first such result wins the shard; its Ack waits until the round closes,
 * when the strategy has decided. Everything else is answered now.
 */
export function syncResult(st: RoundState, out: RoundCommand[], ev: ResultReceivedEvent): void {
  const round = st.round;
  const attempt = round?.attempts.get(ev.taskId);
  if (!round || !attempt || attempt.workerId !== ev.workerId) {
    answerUnknown(st, out, ev);
    return;
  }
  const shard = round.shards[attempt.task.shard];
  if (shard.result) {
    ack(out, ev.workerId, ev.taskId, 'duplicate', ErrorCodes.DUPLICATE);
    return;
  }
  const code = !sameVersions(ev.versions, attempt.task.versions)
    ? ErrorCodes.STALE_VERSION
    : ev.phase !== attempt.task.phase
      ? ErrorCodes.BAD_ARGUMENT
      : null;
  if (code) {
    ack(out, ev.workerId, ev.taskId, 'rejected', code);
    requeueIfOrphaned(st, round, attempt.task.shard);
    return;
  }
  const result = acceptedOf(ev, attempt.kind, attempt.task.shard, attempt.task.batch);
  if (shard.votes) {
    voteResult(st, out, round, result);
    maybeClose(st, out);
    return;
  }
  shard.result = result;
  const p = round.pending.indexOf(attempt.task.shard);
  if (p >= 0) round.pending.splice(p, 1);
  maybeClose(st, out);
}

/** Deadlines: a straggler's shard is offered again (same TaskSpec, same gradient); a quorum may close the round. */
export function syncTick(st: RoundState, out: RoundCommand[]): void {
  const round = st.round;
  if (!round) return;
  for (const a of round.attempts.values()) {
    if (a.expired || a.deadline > st.now) continue;
    a.expired = true;
    requeueIfOrphaned(st, round, a.task.shard);
  }
  maybeClose(st, out);
}

/** A worker left (already removed from st.workers): its shard goes back to the queue. */
export function syncWorkerLeft(st: RoundState, w: WorkerRecord): void {
  const a = w.task === null ? undefined : st.round?.attempts.get(w.task);
  // The attempt stays on record: if the worker reconnects and re-sends, its result still counts.
  if (a && st.round) requeueIfOrphaned(st, st.round, a.task.shard);
}

function maybeClose(st: RoundState, out: RoundCommand[]): void {
  const round = st.round;
  if (!round) return;
  const n = answered(round);
  const q = st.config.quorum;
  if (n === round.numShards || (q < 1 && st.now >= round.deadline && n >= quorumNeeded(q, round.numShards))) closeRound(st, out, round);
}

/** Aggregates, applies and broadcasts the update, answers every result, and moves the schedule on. */
function closeRound(st: RoundState, out: RoundCommand[], round: SyncRound): void {
  const results = round.shards.flatMap((s) => (s.result ? [s.result] : []));
  const failures = round.shards.flatMap((s, i) => (s.result ? [] : [missingShard(st, round, i)]));
  const agg = aggregateResults(st.config.strategy, results, failures);
  const prevGStep = st.lastGStep;
  if (agg.grads) {
    // Validated shards list every agreeing replica's worker (each computed the shard).
    const contributors = agg.used.flatMap((r) => [r.workerId, ...partnersOf(round, r).map((p) => p.workerId)]);
    applyUpdate(st, out, { net: round.phase, grads: agg.grads, step: round.step, sub: round.sub, contributors, scale: 1 });
    const metrics = roundMetrics(round.phase, round.step, agg.used);
    if (metrics) out.push(metrics);
  }
  for (const r of agg.used) for (const x of [r, ...partnersOf(round, r)]) ack(out, x.workerId, x.taskId, 'applied');
  for (const { result, code } of agg.rejected) for (const x of [result, ...partnersOf(round, result)]) rejectByStrategy(st, out, x.workerId, x.taskId, code);
  // Replicas still waiting for a partner when a quorum closed the round: valid, but never validated.
  for (const c of undecided(round)) ack(out, c.workerId, c.taskId, 'rejected', ErrorCodes.ROUND_SKIPPED);
  for (const a of round.attempts.values()) resolve(st, a.taskId, round.shards[a.task.shard].result ? 'consumed' : 'closed');
  st.round = null;
  st.position = nextPosition(round, st.config.run.k);
  checkpointIfDue(st, out, prevGStep);
}

function missingShard(st: RoundState, round: SyncRound, shard: number): ShardFailure {
  let last: Attempt | undefined;
  for (const a of round.attempts.values()) if (a.task.shard === shard) last = a;
  if (!last) return { workerId: '', kind: 'node', code: RoundErrorCodes.TASK_TIMEOUT, reason: `shard ${shard} was never sent` };
  const gone = st.workers.get(last.workerId)?.task !== last.taskId;
  const reason = `shard ${shard}: no answer by the round deadline (${last.taskId}${gone ? ', worker gone' : ''})`;
  return { workerId: last.workerId, kind: last.kind, code: RoundErrorCodes.TASK_TIMEOUT, reason };
}
