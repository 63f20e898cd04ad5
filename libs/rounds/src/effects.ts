import { ErrorCodes, type ErrorCode, type NamedWeights } from '@duel/util';
import { nextAttemptOf, sameVersions, versionOf } from './schedule';
import type { AckStatus, AsyncRetry, Phase, ResolvedOutcome, ResultReceivedEvent, RoundCommand, RoundPosition, RoundState, RoundTask, WaitReason, WorkerJoinedEvent, WorkerRecord } from './types';

/**
 * The machine's only way to act: helpers that update the bookkeeping of
 * RoundState and append the matching command to `out`, so the two can never
 * disagree (e.g. a worker's `has` versions move exactly when weights are sent).
 */

/** How many resolved taskIds are remembered for answering late copies; older ones get UNKNOWN_TASK or STALE_VERSION. */
export const RESOLVED_MEMORY = 4096;

/** Registers a joining worker and sends it the current G and D, which every task needs. */
export function addWorker(st: RoundState, out: RoundCommand[], ev: WorkerJoinedEvent): WorkerRecord {
  const w: WorkerRecord = { id: ev.workerId, kind: ev.kind, maxBatch: ev.maxBatch, task: null, has: { ...st.versions }, waiting: null };
  st.workers.set(w.id, w);
  out.push({ type: 'SendWeights', workerId: w.id, net: 'G', version: st.versions.g });
  out.push({ type: 'SendWeights', workerId: w.id, net: 'D', version: st.versions.d });
  return w;
}

/** Sends a task; first sends any weights the worker lacks for the task's versions (invariant 4). */
export function sendTask(out: RoundCommand[], w: WorkerRecord, task: RoundTask): void {
  for (const net of ['G', 'D'] as const) {
    const key = net === 'G' ? 'g' : 'd';
    if (w.has[key] !== task.versions[key]) {
      out.push({ type: 'SendWeights', workerId: w.id, net, version: task.versions[key] });
      w.has[key] = task.versions[key];
    }
  }
  w.task = task.taskId;
  w.waiting = null;
  out.push({ type: 'SendTask', workerId: w.id, task });
}

/** Sends `reason` to every idle worker that has not been told it already. */
export function waitIdle(st: RoundState, out: RoundCommand[]): void {
  const reason: WaitReason = st.shutdown ? 'shutting_down' : st.paused ? 'paused' : 'no_work';
  for (const w of st.workers.values()) if (w.task === null) sendWait(st, out, w, reason);
}

export function sendWait(st: RoundState, out: RoundCommand[], w: WorkerRecord, reason: WaitReason): void {
  if (w.waiting === reason) return;
  w.waiting = reason;
  out.push({ type: 'Wait', workerId: w.id, reason, retryAfterMs: st.config.waitRetryMs });
}

export function ack(out: RoundCommand[], workerId: string, taskId: string, status: AckStatus, code?: ErrorCode): void {
  out.push(code === undefined ? { type: 'Ack', workerId, taskId, status } : { type: 'Ack', workerId, taskId, status, code });
}

/**
 * Answers a result the strategy left out. A QUARANTINED one benches its
 * worker (no more tasks; its shards go to the others, as when a worker leaves).
 */
export function rejectByStrategy(st: RoundState, out: RoundCommand[], workerId: string, taskId: string, code: ErrorCode): void {
  ack(out, workerId, taskId, 'rejected', code);
  if (code !== ErrorCodes.QUARANTINED) return;
  const w = st.workers.get(workerId);
  if (w) w.benched = true;
}

/**
 * Emits ApplyUpdate for `net`, counts the new version (exactly +1, invariant
 * 3) and broadcasts it, so every present worker holds the new weights.
 */
export function applyUpdate(
  st: RoundState,
  out: RoundCommand[],
  u: { net: Phase; grads: NamedWeights; step: number; sub: number; contributors: string[]; scale: number },
): void {
  const key = u.net === 'G' ? 'g' : 'd';
  st.versions[key]++;
  const version = versionOf(st.versions, u.net);
  out.push({ type: 'ApplyUpdate', ...u, version });
  out.push({ type: 'BroadcastWeights', net: u.net, version });
  for (const w of st.workers.values()) w.has[key] = version;
  if (u.net === 'G') st.lastGStep = Math.max(st.lastGStep, u.step);
}

/**
 * Emits the periodic Checkpoint when the latest applied G step crossed a
 * multiple of checkpointEvery since `prevGStep`. Call it after the schedule
 * position moved on, so the checkpoint resumes at the next update.
 */
export function checkpointIfDue(st: RoundState, out: RoundCommand[], prevGStep: number): void {
  const every = st.config.checkpointEvery;
  if (every > 0 && Math.floor(st.lastGStep / every) > Math.floor(prevGStep / every)) checkpoint(st, out);
}

/** Tick: emits Checkpoint when checkpointEveryMs has passed and a G update was applied since the last one. */
export function checkpointIfTimeDue(st: RoundState, out: RoundCommand[]): void {
  const every = st.config.checkpointEveryMs ?? 0;
  if (every <= 0 || st.lastCheckpointAt === null || st.lastGStep === st.lastCheckpointStep) return;
  if (st.now - st.lastCheckpointAt >= every) checkpoint(st, out);
}

/**
 * Emits Checkpoint with where to resume: sync, the open (abandoned) or next
 * round; async, the next position to issue, plus `pending`: the positions
 * issued but not applied (attempts in flight, and positions waiting to be
 * issued again), which a resumed machine issues again before moving on.
 * `pending` defaults to the state's own; Shutdown passes the one it took
 * before closing the attempts in flight.
 */
export function checkpoint(st: RoundState, out: RoundCommand[], pending = pendingPositions(st)): void {
  const pos = st.config.mode === 'sync' ? st.position : st.async.cursor;
  out.push({ type: 'Checkpoint', step: st.lastGStep, next: { ...pos, versions: { ...st.versions } }, resolved: [...st.resolved], ...(pending ? { pending } : {}) });
  st.lastCheckpointStep = st.lastGStep;
  st.lastCheckpointAt = st.now;
}

/** Schedule order of two positions: by step, then D subs (ascending) before G. Negative when `a` comes first. */
export function compareSchedule(a: RoundPosition, b: RoundPosition): number {
  if (a.step !== b.step) return a.step - b.step;
  if (a.phase !== b.phase) return a.phase === 'D' ? -1 : 1;
  return a.sub - b.sub;
}

/**
 * Async: the positions issued but not applied, in schedule order, each with
 * the attempt number its next issue carries: every attempt in flight (within
 * its deadline or a straggler past it) under its attempt number + 1, and
 * every position waiting to be issued again under its queued number. Fresh
 * copies. Sync: undefined (a sync checkpoint resumes at the open round, whose
 * shards are all sent again).
 */
export function pendingPositions(st: RoundState): AsyncRetry[] | undefined {
  if (st.config.mode === 'sync') return undefined;
  const out: AsyncRetry[] = [];
  for (const a of st.async.outstanding.values()) out.push(nextAttemptOf(a));
  for (const r of st.async.retry) out.push({ pos: { phase: r.pos.phase, step: r.pos.step, sub: r.pos.sub }, attempt: r.attempt });
  return out.sort((a, b) => compareSchedule(a.pos, b.pos));
}

/** Remembers what became of a taskId (bounded FIFO: the oldest entry goes first). */
export function resolve(st: RoundState, taskId: string, outcome: ResolvedOutcome): void {
  st.resolved.delete(taskId);
  st.resolved.set(taskId, outcome);
  if (st.resolved.size > RESOLVED_MEMORY) st.resolved.delete(st.resolved.keys().next().value as string);
}

/**
 * Answers a result that matches no task in flight: a copy of one already
 * counted is a duplicate; one whose round closed, or computed at other
 * versions than the current ones, is stale; anything else is unknown.
 */
export function answerUnknown(st: RoundState, out: RoundCommand[], ev: ResultReceivedEvent): void {
  const seen = st.resolved.get(ev.taskId);
  if (seen === 'consumed') ack(out, ev.workerId, ev.taskId, 'duplicate', ErrorCodes.DUPLICATE);
  else if (seen === 'closed' || !sameVersions(ev.versions, st.versions)) ack(out, ev.workerId, ev.taskId, 'rejected', ErrorCodes.STALE_VERSION);
  else ack(out, ev.workerId, ev.taskId, 'rejected', ErrorCodes.UNKNOWN_TASK);
}
