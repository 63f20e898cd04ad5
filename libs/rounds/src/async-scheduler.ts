import { stalenessScale } from '@duel/aggregation';
import { planTasks, taskSeed, type RunConfig } from '@duel/trainer';
import { ErrorCodes } from '@duel/util';
import { aggregateResults, roundMetrics } from './aggregate-round';
import { ack, answerUnknown, applyUpdate, checkpointIfDue, rejectByStrategy, resolve, sendTask } from './effects';
import { nextPosition, pastEnd, sameVersions, taskIdOf, topKField, versionOf } from './schedule';
import type { ResultReceivedEvent, RoundCommand, RoundState } from './types';

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
 * - A straggler or a worker that leaves is not replaced: the schedule has
 *   moved on. Its result, if it comes (also re-sent after a reconnect), is
 *   judged by staleness like any other. The run completes when every step has
 *   been issued and no task is still expected (each answered, expired, or its
 *   worker gone).
 */

export function asyncDispatch(st: RoundState, out: RoundCommand[]): void {
  if (st.paused || st.shutdown || st.complete || !st.started) return;
  const cfg = st.config;
  for (const w of st.workers.values()) {
    const cursor = st.async.cursor;
    if (pastEnd(cursor, cfg.run.steps)) return;
    if (w.task !== null || w.benched) continue;
    // planTasks reads only batchSize and pack of the RunConfig.
    const [spec] = planTasks(cfg.run as RunConfig, cursor.phase, cursor.step, cursor.sub, 1);
    if (spec.batch > w.maxBatch) continue;
    const taskId = taskIdOf(cursor, 0, 0);
    const task = { ...spec, taskId, seed: taskSeed(cfg.run.seed, spec), versions: { ...st.versions }, deadlineMs: cfg.taskTimeoutMs, ...topKField(cfg.run, spec) };
    st.async.outstanding.set(taskId, { taskId, workerId: w.id, kind: w.kind, task, deadline: st.now + cfg.taskTimeoutMs, expired: false });
    sendTask(out, w, task);
    st.async.cursor = nextPosition(cursor, cfg.run.k);
  }
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
    return;
  }
  const result = { taskId: ev.taskId, workerId: ev.workerId, kind: a.kind, shard: 0, batch: a.task.batch, grads: ev.grads, stats: ev.stats };
  const agg = aggregateResults(st.config.strategy, [result]);
  // The task had its one chance: a copy of this result is a duplicate, applied or not.
  resolve(st, ev.taskId, 'consumed');
  if (!agg.grads) {
    rejectByStrategy(st, out, ev.workerId, ev.taskId, agg.rejected[0].code);
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

/** Marks stragglers; forgets tasks that are both past their deadline and without a worker. */
export function asyncTick(st: RoundState): void {
  for (const a of [...st.async.outstanding.values()]) {
    if (a.deadline > st.now) continue;
    a.expired = true;
    if (st.workers.get(a.workerId)?.task !== a.taskId) {
      st.async.outstanding.delete(a.taskId);
      resolve(st, a.taskId, 'closed');
    }
  }
}

/** True when every step has been issued and no answer is still expected. */
export function asyncDone(st: RoundState): boolean {
  if (!pastEnd(st.async.cursor, st.config.run.steps)) return false;
  for (const a of st.async.outstanding.values()) {
    if (!a.expired && st.workers.get(a.workerId)?.task === a.taskId) return false;
  }
  return true;
}
