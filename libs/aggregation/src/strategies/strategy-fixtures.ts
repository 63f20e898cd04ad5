import { expect, it } from 'vitest';
import { Rng, cloneWeights, zerosLike, type NamedWeights, type TensorSpec } from '@duel/util';
import { weightedMean } from '../kernels';
import type { AggregationStrategy, ClientUpdate } from '../strategy';

/**
 * Test fixtures shared by the strategy specs (imported by *.spec.ts only).
 * Honest updates are a common centre plus small noise; the Byzantine one is
 * huge, so a non-robust mean lands far from the honest mean.
 */

export const SPECS: TensorSpec[] = [
  { name: 'dense/kernel', shape: [4, 5] },
  { name: 'dense/bias', shape: [5] },
  { name: 'out/kernel', shape: [3] },
];

export function filled(value: number, specs: readonly TensorSpec[] = SPECS): NamedWeights {
  const ws = zerosLike(specs);
  for (const w of ws) w.data.fill(value);
  return ws;
}

export function update(workerId: string, grads: NamedWeights, samples = 32, staleness?: number): ClientUpdate {
  return { workerId, grads, samples, staleness };
}

/** n honest updates: centre ~ N(0, 1) per coordinate, each plus N(0, noise²). */
export function honestUpdates(seed: number, n: number, noise = 0.1): ClientUpdate[] {
  const rng = new Rng(seed);
  const centre = zerosLike(SPECS);
  for (const w of centre) rng.fillNormal(w.data);
  return Array.from({ length: n }, (_, i) => {
    const g = cloneWeights(centre);
    for (const w of g) for (let j = 0; j < w.data.length; j++) w.data[j] += noise * rng.normal();
    return update(`honest-${i}`, g, 32);
  });
}

/** One attacker: every coordinate `value` (norm 1e4·√28 by default). */
export function byzantine(value = 1e4, workerId = 'evil'): ClientUpdate {
  return update(workerId, filled(value), 32);
}

/** A copy of `u` (new id) with one NaN or Infinity in its last tensor. */
export function poisoned(u: ClientUpdate, workerId: string, bad = Number.NaN): ClientUpdate {
  const g = cloneWeights(u.grads);
  g[g.length - 1].data[0] = bad;
  return { ...u, workerId, grads: g };
}

export function sampleMean(updates: readonly ClientUpdate[]): NamedWeights {
  return weightedMean(
    updates.map((u) => u.grads),
    updates.map((u) => u.samples),
  );
}

/** ‖a − b‖ / ‖b‖ over all tensors. */
export function relDistance(a: NamedWeights, b: NamedWeights): number {
  let d = 0;
  let n = 0;
  for (let k = 0; k < a.length; k++) {
    for (let i = 0; i < a[k].data.length; i++) {
      d += (a[k].data[i] - b[k].data[i]) ** 2;
      n += b[k].data[i] ** 2;
    }
  }
  return Math.sqrt(d / n);
}

/**
 * The contract every strategy meets, registered as `it` blocks in the calling
 * describe: identical updates give that update, non-finite updates are
 * rejected with DUEL_ERR_NON_FINITE and counted, no input gives null.
 */
export function itMeetsTheStrategyContract(make: () => AggregationStrategy): void {
  it('returns the update itself when all updates are identical', () => {
    const g = honestUpdates(1, 1)[0].grads;
    const out = make().aggregate([0, 1, 2, 3, 4].map((i) => update(`w${i}`, cloneWeights(g), 16 + i)), []);
    expect(out).not.toBeNull();
    expect(relDistance(out!.grads, g)).toBeLessThan(1e-6);
    expect(out!.used).toEqual(['w0', 'w1', 'w2', 'w3', 'w4']);
    expect(out!.rejected).toEqual([]);
  });

  it('rejects non-finite updates with DUEL_ERR_NON_FINITE before aggregating, and counts them', () => {
    const s = make();
    const honest = honestUpdates(2, 4);
    const out = s.aggregate([honest[0], poisoned(honest[1], 'nan'), honest[1], poisoned(honest[2], 'inf', Infinity), honest[2], honest[3]], []);
    expect(out).not.toBeNull();
    // (Krum may also leave out an honest update as an outlier; only the codes matter here.)
    const nonFinite = out!.rejected.filter((r) => r.code === 'DUEL_ERR_NON_FINITE').map((r) => r.workerId);
    expect(nonFinite).toEqual(['nan', 'inf']);
    expect(out!.used).not.toContain('nan');
    for (const w of out!.grads) expect(w.data.every(Number.isFinite)).toBe(true);
    const c = s.counts();
    expect(c).toMatchObject({ rounds: 1, received: 6, rejected: out!.rejected.length, used: out!.used.length, skipped: 0 });
    expect(c.rejectedByCode['DUEL_ERR_NON_FINITE']).toBe(2);
    expect(c.used + c.rejected).toBe(6);
  });

  it('returns null for no updates, and when every update is rejected', () => {
    const s = make();
    expect(s.aggregate([], [{ workerId: 'gone', code: 'DUEL_ERR_TIMEOUT' }])).toBeNull();
    expect(s.aggregate([poisoned(honestUpdates(3, 1)[0], 'nan')], [])).toBeNull();
    expect(s.lastRejected.map((r) => r.code)).toEqual(['DUEL_ERR_NON_FINITE']);
    expect(s.counts()).toMatchObject({ rounds: 2, skipped: 2, failures: 1, received: 1, rejected: 1, used: 0 });
  });

  it('does not modify its inputs', () => {
    const ups = [...honestUpdates(4, 4), byzantine()];
    const before = ups.map((u) => cloneWeights(u.grads));
    make().aggregate(ups, []);
    ups.forEach((u, i) => expect(relDistance(u.grads, before[i])).toBe(0));
  });
}
