import { stalenessScale } from '@duel/aggregation';
import { planTasks, taskSeed, type RunConfig } from '@duel/trainer';
import { ErrorCodes } from '@duel/util';
import { aggregateResults, roundMetrics } from './aggregate-round';
import { ack, answerUnknown, applyUpdate, checkpointIfDue, rejectByStrategy, resolve, sendTask } from './effects';
import { nextAttemptOf, nextPosition, pastEnd, sameVersions, taskIdOf, topKField, versionOf } from './schedule';
import type { Attempt, ResultReceivedEvent, RoundCommand, RoundState } from './types';

/**
 * Asynchronous SGD with a staleness bound, as in Zhang, Gupta, Lian & Liu
 * (2016), "Staleness-aware async-SGD for distributed deep learning":
 *
 * - Every idle worker gets the next task of the schedule (D sub 0..k−1, then
 *   G, per step), counted over *issued* tasks, at the current versions. Each
 *   task is the whole batch (numShards 1, shard 0), so D tasks advance the
 *   real-data cursor one update at a time, as in the local trainer.
 * - A result's staleness τ is the current version of its net minus the
 *   version it was computed at. τ ≤ s: it is applied alone (through the
 *   strategy of its worker's kind, which screens it), with ApplyUpdate.scale
 *   = stalenessScale(τ). τ > s: rejected DUEL_ERR_STALE_VERSION.
 * - A position whose attempt ends without an update is issued again, at the
 *   current versions, under the next attempt number (`${step}.${phase}${sub}.0.${attempt}`),
 *   before the cursor moves on, up to ASYNC_MAX_ATTEMPTS attempts in all: a
 *   result refused (too stale, computed at other versions, the wrong phase, or
 *   rejected by the strategy), or an attempt lost (its deadline passed and its
 *   worker is gone or holds another task). So `steps` counts applied updates,
 *   as a user reading `--steps 20` expects, and not issued tasks only: a
 *   refused gradient costs the work, not the update. A retry draws the same
 *   data (the task's seed depends on its position only).
 * - A worker that leaves keeps its attempt until the deadline, so a result it
 *   re-sends after a reconnect still counts (judged by staleness like any
 *   other); then the position is issued again. A straggler still holding its
 *   task past the deadline keeps its position: its result, when it comes, is
 *   judged like any other (and, refused, its position is issued again).
 * - A Checkpoint keeps the positions issued but not applied (`pending`: each
 *   attempt in flight, under its attempt number + 1, and each position waiting
 *   to be issued again), and a machine resumed from it issues them again
 *   before the cursor moves on, so a restart loses no position. A restart is
 *   not a failure of the position: a restored one is issued once more even at
 *   ASYNC_MAX_ATTEMPTS (config.ts createRoundState). A late result of an
 *   attempt from before the restart is unknown to the resumed machine, so it
 *   is refused and never applied.
 * - The run completes when every position has been issued, none waits to be
 *   issued again, and no attempt is still expected (each answered, or expired
 *   with its worker still holding it: a straggler does not hold the run).
 */

/**
 * Attempts per async position in all (the first and up to two re-issues). A
 * bound, so a position that every worker's result fails (a strategy that
 * rejects it whoever computes it) cannot keep the run going forever; past it
 * the position is dropped, as every refused position was before retries.
 * (A coordinator restart adds at most one attempt per restored position.)
 */
export const ASYNC_MAX_ATTEMPTS = 3;

export function asyncDispatch(st: RoundState, out: RoundCommand[]): void {
  if (st.paused || st.shutdown || st.complete || !st.started) return;
  const cfg = st.config;
  const as = st.async;
  for (const w of st.workers.values()) {
    // Positions to issue again go first; then the schedule's next one.
    const retry = as.retry[0];
    if (!retry && pastEnd(as.cursor, cfg.run.steps)) return;
    if (w.task !== null || w.benched) continue;
    const pos = retry?.pos ?? as.cursor;
    // planTasks reads only batchSize and pack of the RunConfig.
    const [spec] = planTasks(cfg.run as RunConfig, pos.phase, pos.step, pos.sub, 1);
    if (spec.batch > w.maxBatch) continue;
    const taskId = taskIdOf(pos, 0, retry?.attempt ?? 0);
    const task = { ...spec, taskId, seed: taskSeed(cfg.run.seed, spec), versions: { ...st.versions }, deadlineMs: cfg.taskTimeoutMs, ...topKField(cfg.run, spec) };
    as.outstanding.set(taskId, { taskId, workerId: w.id, kind: w.kind, task, deadline: st.now + cfg.taskTimeoutMs, expired: false });
    sendTask(out, w, task);
    if (retry) as.retry.shift();
    else as.cursor = nextPosition(as.cursor, cfg.run.k);
  }
}

/** Queues the position of `a`, an attempt that ended without an update, to be issued again (while attempts are left). */
function retryLater(st: RoundState, a: Attempt): void {
  const next = nextAttemptOf(a);
  if (next.attempt < ASYNC_MAX_ATTEMPTS) st.async.retry.push(next);
}

export function asyncResult(st: RoundState, out: RoundCommand[], ev: ResultReceivedEvent): void {
  const a = st.async.outstanding.get(ev.taskId);
  if (!a || a.workerId !== ev.workerId) {
    answerUnknown(st, out, ev);
    return;
  }
  st.async.outstanding.delete(ev.taskId);
  const net = a.task.phase;
  const staleness = versionOf(st.versions, net) - versionOf(a.task.versions, net);
  const code = !sameVersions(ev.versions, a.task.versions)
    ? ErrorCodes.STALE_VERSION
    : ev.phase !== net
      ? ErrorCodes.BAD_ARGUMENT
      : staleness > st.config.staleness
        ? ErrorCodes.STALE_VERSION
        : null;
  if (code) {
    resolve(st, ev.taskId, 'closed');
    ack(out, ev.workerId, ev.taskId, 'rejected', code);
    retryLater(st, a);
    return;
  }
  const result = { taskId: ev.taskId, workerId: ev.workerId, kind: a.kind, shard: 0, batch: a.task.batch, grads: ev.grads, stats: ev.stats };
  const agg = aggregateResults(st.config.strategy, [result]);
  // The task had its one chance: a copy of this result is a duplicate, applied or not.
  resolve(st, ev.taskId, 'consumed');
  if (!agg.grads) {
    rejectByStrategy(st, out, ev.workerId, ev.taskId, agg.rejected[0].code);
    retryLater(st, a);
    return;
  }
  const prevGStep = st.lastGStep;
  const scale = stalenessScale(staleness, st.config.stalenessMode);
  applyUpdate(st, out, { net, grads: agg.grads, step: a.task.step, sub: a.task.sub, contributors: [ev.workerId], scale });
  const metrics = roundMetrics(net, a.task.step, agg.used);
  if (metrics) out.push(metrics);
  ack(out, ev.workerId, ev.taskId, 'applied');
  checkpointIfDue(st, out, prevGStep);
}

/** Marks stragglers; closes attempts that are both past their deadline and without a worker, and issues their positions again. */
export function asyncTick(st: RoundState): void {
  for (const a of [...st.async.outstanding.values()]) {
    if (a.deadline > st.now) continue;
    a.expired = true;
    if (st.workers.get(a.workerId)?.task !== a.taskId) {
      st.async.outstanding.delete(a.taskId);
      resolve(st, a.taskId, 'closed');
      retryLater(st, a);
    }
  }
}

/**
 * True when every position has been issued, none waits to be issued again,
 * and no answer is still expected: an attempt within its deadline (its worker
 * may be gone, and may re-send after a reconnect, or it is issued again at
 * the deadline) holds the run; a straggler past its deadline does not.
 */
export function asyncDone(st: RoundState): boolean {
  if (!pastEnd(st.async.cursor, st.config.run.steps) || st.async.retry.length > 0) return false;
  for (const a of st.async.outstanding.values()) {
    if (!a.expired) return false;
  }
  return true;
}
