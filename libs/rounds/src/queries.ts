import { pendingPositions } from './effects';
import { answered } from './sync-round';
import type { AsyncRetry, Phase, RoundPosition, RoundState, RunMode, Versions } from './types';

/** Read-only views of a RoundState for the HTTP API and metrics; they never change it. */

/** Sync: the open round, or the next one. Async: the next task to issue. */
export function currentPosition(st: RoundState): RoundPosition {
  const p = st.config.mode === 'sync' ? st.position : st.async.cursor;
  return { phase: p.phase, step: p.step, sub: p.sub };
}

/**
 * Async: the positions issued but not applied (attempts in flight, positions
 * waiting to be issued again), in schedule order, as a Checkpoint's `pending`
 * records them; pass it with currentPosition to createRoundState to resume.
 * Sync: undefined.
 */
export function currentPending(st: RoundState): AsyncRetry[] | undefined {
  return pendingPositions(st);
}

export function currentPhase(st: RoundState): Phase {
  return currentPosition(st).phase;
}

export type RunState = 'waiting' | 'training' | 'paused' | 'shutdown' | 'complete';

export interface RoundSummary {
  mode: RunMode;
  state: RunState;
  position: RoundPosition;
  versions: Versions;
  /** Step of the latest applied G update. */
  step: number;
  workers: number;
  /** Workers computing a task. */
  busy: number;
  /** Sync only: the open round's progress. */
  round: { numShards: number; answered: number; pending: number } | null;
}

export function summarize(st: RoundState): RoundSummary {
  let busy = 0;
  for (const w of st.workers.values()) if (w.task !== null) busy++;
  const state: RunState = st.complete
    ? 'complete'
    : st.shutdown
      ? 'shutdown'
      : st.paused
        ? 'paused'
        : st.started
          ? 'training'
          : 'waiting';
  const r = st.round;
  return {
    mode: st.config.mode,
    state,
    position: currentPosition(st),
    versions: { ...st.versions },
    step: st.lastGStep,
    workers: st.workers.size,
    busy,
    round: r ? { numShards: r.numShards, answered: answered(r), pending: r.pending.length } : null,
  };
}
