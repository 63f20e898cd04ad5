import { topKShare } from '@duel/trainer';
import type { AsyncRetry, Attempt, Phase, RoundPosition, RoundRunFields, Versions } from './types';

/**
 * The update schedule of Goodfellow et al. (2014), Algorithm 1, shared with
 * the local reference trainer: per 1-based step, D sub 0..k−1, then G sub 0.
 */
export function nextPosition(pos: RoundPosition, k: number): RoundPosition {
  if (pos.phase === 'D' && pos.sub + 1 < k) return { phase: 'D', step: pos.step, sub: pos.sub + 1 };
  if (pos.phase === 'D') return { phase: 'G', step: pos.step, sub: 0 };
  return { phase: 'D', step: pos.step + 1, sub: 0 };
}

/** True once the schedule has moved past the last step. */
export function pastEnd(pos: RoundPosition, steps: number): boolean {
  return pos.step > steps;
}

/** The version counter of a net: `versions.g` for G, `versions.d` for D. */
export function versionOf(versions: Versions, net: Phase): number {
  return net === 'G' ? versions.g : versions.d;
}

export function sameVersions(a: Versions, b: Versions): boolean {
  return a.g === b.g && a.d === b.d;
}

/**
 * A task's id: `${step}.${phase}${sub}.${shard}.${attempt}`, e.g. "3.D0.1.0"
 * is step 3, first D update, shard 1, first sending. Deterministic, so a
 * coordinator resumed at the same position issues the same ids for the same
 * TaskSpecs (and a worker's re-sent result still matches); the attempt suffix
 * tells a reassigned copy of a shard from the original. Async tasks are
 * always shard 0, attempt 0: each schedule position is issued once.
 */
export function taskIdOf(pos: RoundPosition, shard: number, attempt: number): string {
  return `${pos.step}.${pos.phase}${pos.sub}.${shard}.${attempt}`;
}

/** The attempt number of a task id built by {@link taskIdOf} (its last field). */
export function attemptOf(taskId: string): number {
  return Number(taskId.slice(taskId.lastIndexOf('.') + 1));
}

/** The position of attempt `a`, under the attempt number its next issue carries (a fresh copy). */
export function nextAttemptOf(a: Attempt): AsyncRetry {
  return { pos: { phase: a.task.phase, step: a.task.step, sub: a.task.sub }, attempt: attemptOf(a.taskId) + 1 };
}

/**
 * The `topK` field of a G task in a top-k run (the share of fake packs G
 * descends on at that step), or nothing: D tasks and runs without top-k
 * send no field, so their task frames are as before.
 */
export function topKField(run: RoundRunFields, pos: Pick<RoundPosition, 'phase' | 'step'>): { topK?: number } {
  const share = pos.phase === 'G' ? topKShare(run, pos.step) : 1;
  return share < 1 ? { topK: share } : {};
}
