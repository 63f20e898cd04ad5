import { DuelError, ErrorCodes } from '@duel/util';
import { MAX_METRICS_POINTS, type MetricsPoint, type StoreKind } from './state-store';

/** Options with the `defaults`' keys filled in: an option left out or given as undefined takes its default. */
export type WithDefaults<O, D extends keyof O> = O & { [K in D]-?: Exclude<O[K], undefined> };

/**
 * What both stores share: their options, resolved once against defaults;
 * their `location`; the "store is back" listeners; and the checks on the
 * metrics history, so a bad point or limit is refused the same way by each
 * (DUEL_ERR_BAD_ARGUMENT, nothing stored).
 */
export abstract class StateStoreBase<O extends object, D extends keyof O> {
  abstract readonly kind: StoreKind;
  readonly location: string;
  protected readonly opts: WithDefaults<O, D>;
  private readonly reconnectListeners = new Set<() => void>();

  protected constructor(opts: O, defaults: { [K in D]-?: Exclude<O[K], undefined> }, location: (opts: WithDefaults<O, D>) => string) {
    const resolved: Record<string, unknown> = { ...(opts as Record<string, unknown>) };
    // A spread would let an explicit `undefined` (createStateStore passes them) hide the default.
    for (const [k, v] of Object.entries(defaults)) if (resolved[k] === undefined) resolved[k] = v;
    this.opts = resolved as WithDefaults<O, D>;
    this.location = location(this.opts);
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /** Tells the listeners that the store answers again after an outage. */
  protected reconnected(): void {
    for (const l of this.reconnectListeners) l();
  }

  async appendMetrics(point: MetricsPoint): Promise<void> {
    const p = metricsPointOf(point);
    if (!p) throw new DuelError(ErrorCodes.BAD_ARGUMENT, 'a metrics point needs a finite t, an integer step >= 0, and numbers or null');
    await this.writeMetrics(p);
  }

  /** The newest `limit` points, oldest first. */
  async metricsHistory(limit = MAX_METRICS_POINTS): Promise<MetricsPoint[]> {
    if (!Number.isInteger(limit) || limit < 1) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `metrics history limit must be a positive integer, got ${limit}`);
    return this.readMetrics(limit);
  }

  /** Stores a checked point (a copy the caller no longer holds). */
  protected abstract writeMetrics(point: MetricsPoint): Promise<void>;
  protected abstract readMetrics(limit: number): Promise<MetricsPoint[]>;
}

/**
 * `value` as a metrics point (a copy), or null when it is not one: `t` finite,
 * `step` a non-negative integer, every other field a number or null. A NaN or
 * infinite metric (a diverged run) becomes null, as JSON would write it. Both
 * stores read their history back through it, so a torn or foreign entry is
 * skipped rather than handed to the dashboard.
 */
export function metricsPointOf(value: unknown): MetricsPoint | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { t, step, ...rest } = value as Record<string, unknown>;
  if (typeof t !== 'number' || !Number.isFinite(t) || !Number.isInteger(step) || (step as number) < 0) return null;
  const out: MetricsPoint = { t, step: step as number };
  for (const [k, v] of Object.entries(rest)) {
    if (v !== null && typeof v !== 'number') return null;
    out[k] = v !== null && Number.isFinite(v) ? v : null;
  }
  return out;
}

/** A stored line of JSON as a metrics point, or null when it does not parse as one. */
export function parseMetricsPoint(json: string): MetricsPoint | null {
  try {
    return metricsPointOf(JSON.parse(json));
  } catch {
    return null;
  }
}
