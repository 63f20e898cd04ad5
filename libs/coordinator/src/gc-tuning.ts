import { setFlagsFromString } from 'node:v8';
import { DuelError, ErrorCodes } from '@duel/util';

/**
 * Heap growth for a parameter server (V8's `--heap-growing-percent`).
 *
 * The coordinator keeps a ~50 MB live heap (`mlp` on MNIST)
 * and moves MBs of frames per step whose backing stores live outside it. By
 * default V8 sets the next old-generation limit only ~1.45× above the live
 * size after each mark-compact; with the young generation grown to its
 * working size the free room is smaller than it, so incremental marking
 * starts again at once, and each mark-compact frees almost nothing
 * (50.6 → 50.0 MB). Measured with `--trace-gc`, `mlp` on MNIST, 1 worker,
 * 40 steps: 35–43 mark-compacts at the default (~17 ms of GC per step, the
 * largest item in a CPU profile), 5–8 with 200% growth (limit 3× live).
 * The cost is heap headroom: up to ~3× the live heap before a collection.
 *
 * V8 reads this flag each time it sizes the heap after a GC, so setting it at
 * run time takes effect. It is process-wide: the coordinator is the process's
 * main tenant wherever it runs (`duel coordinator`, `duel train`, the bench).
 * DUEL_HEAP_GROWING_PERCENT overrides it; 0 keeps V8's default.
 */
export const HEAP_GROWING_PERCENT = 200;

let applied = false;

export function tuneHeapForCoordinator(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['DUEL_HEAP_GROWING_PERCENT'];
  const pct = raw === undefined || raw === '' ? HEAP_GROWING_PERCENT : Number(raw);
  if (!(Number.isInteger(pct) && pct >= 0 && pct <= 1000)) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `DUEL_HEAP_GROWING_PERCENT must be an integer in [0, 1000], got ${raw}`);
  }
  if (!applied && pct > 0) setFlagsFromString(`--heap-growing-percent=${pct}`);
  applied = true;
  return pct;
}
