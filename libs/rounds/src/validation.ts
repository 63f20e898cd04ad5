import type { NamedWeights } from '@duel/util';

/**
 * Validation by redundancy (BOINC's "replication", Anderson 2004): a
 * volunteer's shard counts only when another worker computed the same task
 * (same seed, shard, versions, batch) and the two gradients agree. This file
 * holds the pure comparison; the scheduling lives in sync-scheduler.ts.
 */

/**
 * Relative distances at or below this agree by default. Measured on one task
 * (tools/backends/replica-distance.ts): honest float32 results from the cpu,
 * wasm and WebGL backends differ by 1e-7 to 3.5e-7, so this leaves a margin of
 * about 3000 for deeper models and other kernels; a 1% scaling of the gradient
 * is 1e-2, a sign flip 2. WebGL forced to float16 textures differs by up to
 * 1e-2 and would need a larger tolerance.
 */
export const DEFAULT_VALIDATION_TOLERANCE = 1e-3;

/** Floor of the denominator, so two all-zero gradients agree (0 / ε = 0). */
const EPS = 1e-12;

/**
 * ||a − b|| / max(||a||, ||b||, ε): the relative L2 distance over all tensors
 * at once, summed in float64. 0 for identical gradients; 2 for b = −a; about 1
 * when one side is far larger (×100) or pure noise. Infinity when the two do
 * not have the same tensors (names, shapes) or hold a non-finite value, so such
 * a pair never agrees.
 */
export function gradientDistance(a: NamedWeights, b: NamedWeights): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let na = 0;
  let nb = 0;
  for (let k = 0; k < a.length; k++) {
    const x = a[k];
    const y = b[k];
    if (x.name !== y.name || x.data.length !== y.data.length || x.shape.length !== y.shape.length || x.shape.some((d, i) => d !== y.shape[i])) return Infinity;
    const xd = x.data;
    const yd = y.data;
    for (let i = 0; i < xd.length; i++) {
      const u = xd[i];
      const v = yd[i];
      diff += (u - v) * (u - v);
      na += u * u;
      nb += v * v;
    }
  }
  const d = Math.sqrt(diff) / Math.max(Math.sqrt(na), Math.sqrt(nb), EPS);
  return Number.isFinite(d) ? d : Infinity;
}

/** Whether two replicas of one task agree within `tolerance` (relative L2). */
export function replicasAgree(a: NamedWeights, b: NamedWeights, tolerance: number): boolean {
  return gradientDistance(a, b) <= tolerance;
}

/**
 * The majority among replicas of one task: the replica that agrees with the
 * most others (itself included), earliest first on a tie, when that group has
 * at least `needed` members; null when no group is that large. `agrees` holds
 * the indexes of the group, the winner first.
 */
export function majority(replicas: readonly NamedWeights[], tolerance: number, needed: number): { winner: number; agrees: number[] } | null {
  let best: number[] = [];
  for (let i = 0; i < replicas.length; i++) {
    const group = [i];
    for (let j = 0; j < replicas.length; j++) if (j !== i && replicasAgree(replicas[i], replicas[j], tolerance)) group.push(j);
    if (group.length > best.length) best = group;
  }
  return best.length >= needed ? { winner: best[0], agrees: best } : null;
}
