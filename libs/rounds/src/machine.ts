import { DuelError, ErrorCodes } from '@duel/util';
import { asyncDispatch, asyncDone, asyncResult, asyncTick } from './async-scheduler';
import { ack, addWorker, answerUnknown, checkpoint, checkpointIfTimeDue, pendingPositions, resolve, waitIdle } from './effects';
import { pastEnd } from './schedule';
import { syncDispatch, syncResult, syncTick, syncWorkerLeft } from './sync-scheduler';
import type { ReconfigureEvent, ResultReceivedEvent, RoundCommand, RoundEvent, RoundState, StepResult, WorkerRecord } from './types';

/** Largest k a control may set (D updates per G update). */
export const MAX_K = 100;

/**
 * The coordinator's round logic as a deterministic state machine, in the
 * manner of etcd's raft library: it does no I/O, reads no clock (time comes in
 * events as `now`, ms), draws nothing at random, and never touches weights. The
 * coordinator feeds it events and carries out the commands it returns, in
 * order.
 *
 * Invariants (each has a test in machine.spec.ts):
 *  1. A result is applied at most once: per shard (sync) or task (async), the
 *     first accepted result wins; any later copy is Acked 'duplicate'.
 *  2. A rejected or duplicate result changes no counter that affects weights
 *     (versions, schedule position, data cursor).
 *  3. Versions only increase, by exactly one per ApplyUpdate, of that net.
 *  4. No task is sent to a worker that has not been sent the weights of the
 *     versions the task names (SendWeights at join, BroadcastWeights after
 *     each update, a catch-up SendWeights otherwise).
 *  5. After RunComplete no task is sent.
 *  6. Pause stops issuing tasks; outstanding ones may finish (and close
 *     their round). Resume issues again.
 *  7. Shutdown stops issuing, abandons the open round (late results are
 *     rejected, nothing is applied) and emits Checkpoint with the position
 *     to resume from.
 *  8. Reconfigure changes k or the strategy without touching versions or
 *     the open round: a new k applies from the next schedule position (a D
 *     sub at or past the new k moves on to G), a new strategy from the next
 *     round close. A bad value throws and changes nothing.
 *  9. Validation (config.validation, validated-shards.ts): a shard a
 *     volunteer computed is applied only once `replicas` volunteers' results
 *     for it agree, or a node worker's result decides it; its gradient enters
 *     the update once, a disagreeing result is acked DUEL_ERR_VALIDATION_MISMATCH
 *     and never applied. Off, the machine behaves exactly as without it.
 *     (Its tests are in validated-shards.spec.ts.)
 *
 * The caller's duties, in order:
 *  1. Create the state with createRoundState(config) (a resumed run passes
 *     the position of its last Checkpoint as config.start).
 *  2. Turn every connection change, result frame, and clock tick (a few per
 *     taskTimeoutMs) into an event and call step() with it, one at a time.
 *  3. Carry out the commands in order: ApplyUpdate runs the optimizer with
 *     scale on the learning rate, before the BroadcastWeights that follows it.
 *  4. Persist the training state on Checkpoint, together with `next`.
 *
 * step() mutates `state` in place and returns it; keep no other reference
 * to its parts between calls.
 */
export function step(state: RoundState, event: RoundEvent): StepResult {
  const st = state;
  const out: RoundCommand[] = [];
  if (event.now !== undefined) st.now = Math.max(st.now, event.now);
  st.lastCheckpointAt ??= event.now ?? null;
  switch (event.type) {
    case 'WorkerJoined': {
      const old = st.workers.get(event.workerId);
      if (old) workerLeft(st, old);
      addWorker(st, out, event);
      if (st.workers.size >= st.config.minWorkers) st.started = true;
      break;
    }
    case 'WorkerLeft': {
      const w = st.workers.get(event.workerId);
      if (w) workerLeft(st, w);
      break;
    }
    case 'ResultReceived':
      onResult(st, out, event);
      break;
    case 'Tick':
      if (st.shutdown || st.complete) break;
      if (st.config.mode === 'sync') syncTick(st, out);
      else asyncTick(st);
      checkpointIfTimeDue(st, out);
      break;
    case 'Pause':
      st.paused = true;
      break;
    case 'Resume':
      st.paused = false;
      break;
    case 'Reconfigure':
      reconfigure(st, event);
      break;
    case 'Shutdown':
      if (!st.shutdown) shutdown(st, out);
      break;
  }
  dispatch(st, out);
  return { state: st, commands: out };
}

function reconfigure(st: RoundState, ev: ReconfigureEvent): void {
  if (ev.k !== undefined && !(Number.isInteger(ev.k) && ev.k >= 1 && ev.k <= MAX_K)) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `k must be an integer in 1..${MAX_K}, got ${String(ev.k)}`, { field: 'k' });
  }
  if (ev.strategy !== undefined && typeof (ev.strategy as { aggregate?: unknown }).aggregate !== 'function' && typeof (ev.strategy as { node?: { aggregate?: unknown } }).node?.aggregate !== 'function') {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, 'strategy must be an AggregationStrategy', { field: 'strategy' });
  }
  // A new config object: the caller's RunConfig (shared with the coordinator's options) is never mutated.
  st.config = {
    ...st.config,
    run: ev.k === undefined ? st.config.run : { ...st.config.run, k: ev.k },
    strategy: ev.strategy ?? st.config.strategy,
  };
}

function workerLeft(st: RoundState, w: WorkerRecord): void {
  st.workers.delete(w.id);
  if (st.config.mode === 'sync') syncWorkerLeft(st, w);
}

function onResult(st: RoundState, out: RoundCommand[], ev: ResultReceivedEvent): void {
  // An answer, whatever its verdict, frees the worker for its next task.
  const w = st.workers.get(ev.workerId);
  if (w && w.task === ev.taskId) w.task = null;
  if (st.shutdown || st.complete) {
    if (st.resolved.get(ev.taskId) === 'consumed') answerUnknown(st, out, ev);
    else ack(out, ev.workerId, ev.taskId, 'rejected', ErrorCodes.SHUTTING_DOWN);
    return;
  }
  if (st.config.mode === 'sync') syncResult(st, out, ev);
  else asyncResult(st, out, ev);
}

/** Hands out work, detects the end of the run, and tells idle workers why they wait. */
function dispatch(st: RoundState, out: RoundCommand[]): void {
  if (!st.shutdown && !st.complete) {
    if (st.config.mode === 'sync') syncDispatch(st, out);
    else asyncDispatch(st, out);
    const done = st.config.mode === 'sync' ? !st.round && pastEnd(st.position, st.config.run.steps) : asyncDone(st);
    if (done) complete(st, out);
  }
  waitIdle(st, out);
}

function complete(st: RoundState, out: RoundCommand[]): void {
  st.complete = true;
  if (st.config.checkpointEvery > 0 && st.lastCheckpointStep !== st.lastGStep) checkpoint(st, out);
  for (const a of st.async.outstanding.values()) resolve(st, a.taskId, 'closed');
  st.async.outstanding.clear();
  out.push({ type: 'RunComplete', step: st.lastGStep });
}

/** Abandons the open round (its position is where a resumed run starts), tells everyone, checkpoints. */
function shutdown(st: RoundState, out: RoundCommand[]): void {
  st.shutdown = true;
  if (st.round) {
    // Results already accepted were waiting for the round to close: answer them now.
    for (const s of st.round.shards) {
      const held = [...(s.result ? [s.result] : []), ...(s.votes?.partners ?? []), ...(s.votes?.candidates ?? [])];
      for (const r of held) ack(out, r.workerId, r.taskId, 'rejected', ErrorCodes.SHUTTING_DOWN);
    }
    for (const a of st.round.attempts.values()) resolve(st, a.taskId, 'closed');
    st.round = null;
  }
  // Async: the checkpoint keeps the positions in flight or waiting to be issued again, for the resumed run to issue.
  const pending = pendingPositions(st);
  for (const a of st.async.outstanding.values()) resolve(st, a.taskId, 'closed');
  st.async.outstanding.clear();
  st.async.retry = [];
  for (const w of st.workers.values()) {
    w.waiting = 'shutting_down';
    out.push({ type: 'Wait', workerId: w.id, reason: 'shutting_down', retryAfterMs: st.config.waitRetryMs });
  }
  checkpoint(st, out, pending);
}
