import { zerosLike, type NamedWeights, type TensorSpec } from '@duel/util';

/**
 * Recycled output buffers for the aggregation kernels. An aggregate is almost
 * always consumed at once: the optimizer reads it and drops it. A consumer
 * that knows it is done with one hands it back with {@link releaseGradients},
 * and the next aggregate of that layout reuses its arrays.
 *
 * Why: a fresh 6 MB Float32Array per `mlp` G update was what drove the
 * coordinator's garbage collector. In the ingest bench (BENCHMARKS.md §3, one
 * worker) the process ran about 73 mark-compacts in 7 s, 1.9 s of GC, with
 * that allocation, and 5 to 7 without it (measured 2026-12 with --trace-gc).
 *
 * Only buffers this module handed out are taken back, each at most once per
 * hand-out, so a stray or repeated release cannot make two aggregates share
 * memory. A consumer that never releases (the local trainer) just allocates.
 */

/** Buffers handed out by {@link gradientBuffer} and not yet released. */
const issued = new WeakSet<NamedWeights>();
/** Released buffers by layout; a couple per layout is all one round needs. */
const free = new Map<string, NamedWeights[]>();
const MAX_FREE_PER_LAYOUT = 2;

function layoutKey(specs: readonly { name: string; shape: readonly number[] }[]): string {
  let key = '';
  for (const s of specs) key += `${s.name}:${s.shape.join('x')};`;
  return key;
}

/**
 * A buffer of layout `specs` for an aggregation kernel to fill. Its values are
 * stale when it is a recycled one: the caller must write every coordinate.
 */
export function gradientBuffer(specs: readonly TensorSpec[]): NamedWeights {
  const ws = free.get(layoutKey(specs))?.pop() ?? zerosLike(specs);
  issued.add(ws);
  return ws;
}

/**
 * Hands back an aggregate the caller has finished with (e.g. after the
 * optimizer step): nothing may read or write `ws` afterwards. Anything this
 * module did not hand out, or already took back, is ignored.
 */
export function releaseGradients(ws: NamedWeights): void {
  if (!issued.has(ws)) return;
  issued.delete(ws);
  const key = layoutKey(ws);
  const list = free.get(key);
  if (!list) free.set(key, [ws]);
  else if (list.length < MAX_FREE_PER_LAYOUT) list.push(ws);
}
