import {
  DuelError,
  ErrorCodes,
  allFinite,
  assertLayout,
  isDuelError,
  type ErrorCode,
  type NamedWeights,
  type TensorSpec,
  wasFoundFinite,
} from '@duel/util';

/**
 * The aggregation contract, in Flower's shape (`Strategy.aggregate_fit`): the
 * round loop lives elsewhere and never changes per strategy; a strategy gets
 * this round's results and failures as data and returns the combined gradient,
 * or null to keep the weights as they are.
 */

export type WorkerKind = 'node' | 'volunteer';

/** One worker's result for a round: gradients for the current task. */
export interface ClientUpdate {
  workerId: string;
  /** Gradients in the model's canonical layout. */
  grads: NamedWeights;
  /** Examples behind these gradients (the batch size); weights the mean. */
  samples: number;
  /** Versions the weights moved since the task was sent; 0 or absent when fresh. */
  staleness?: number;
  kind?: WorkerKind;
  /**
   * The worker that sent it, when `workerId` is not that worker (the
   * coordinator keys updates by taskId, as one worker may compute several
   * shards of a round). Per-worker memory (quarantine, history) keys on it.
   */
  sender?: string;
}

/** Who an update's per-worker memory belongs to: its sender, else its workerId. */
export function senderOf(u: ClientUpdate): string {
  return u.sender ?? u.workerId;
}

/**
 * One key per update for memory that expects one update per worker and round
 * (the history screen): the sender, except for a sender's second and later
 * updates in the same round, which get a key of their own (`update:<workerId>`).
 */
export function memoryKeys(updates: readonly ClientUpdate[]): string[] {
  const seen = new Set<string>();
  return updates.map((u) => {
    const s = senderOf(u);
    if (seen.has(s)) return `update:${u.workerId}`;
    seen.add(s);
    return s;
  });
}

/** A worker that was given a task this round and produced nothing usable (timeout, disconnect, ...). */
export interface Failure {
  workerId: string;
  code: ErrorCode;
  reason?: string;
}

/** An update the strategy received but left out, and why. */
export interface Rejection {
  workerId: string;
  code: ErrorCode;
  reason: string;
}

export interface AggregateResult {
  /** The combined gradient, freshly allocated, in the same layout as the inputs. */
  grads: NamedWeights;
  /** Worker ids whose updates went into `grads`, in input order. */
  used: string[];
  /** Updates left out (non-finite, malformed, outliers), in input order. */
  rejected: Rejection[];
}

/** null means "keep the weights unchanged this round". */
export type AggregateOutcome = AggregateResult | null;

/** Running totals since the strategy was created (for /api/status and metrics). */
export interface StrategyCounts {
  /** Calls to aggregate(). */
  rounds: number;
  /** Rounds that returned null. */
  skipped: number;
  /** Updates received / used / rejected, and failures reported. */
  received: number;
  used: number;
  rejected: number;
  failures: number;
  /** Rejections by error code. */
  rejectedByCode: Record<string, number>;
}

export interface AggregationStrategy {
  readonly name: string;
  /** The paper the technique comes from. */
  readonly paper?: string;
  aggregate(results: readonly ClientUpdate[], failures?: readonly Failure[]): AggregateOutcome;
  /** A copy of the running totals. */
  counts(): StrategyCounts;
  /** Rejections of the latest round, also when it returned null (e.g. every update was non-finite). */
  readonly lastRejected: readonly Rejection[];
}

/** Options every strategy accepts. */
export interface BaseStrategyOptions {
  /**
   * The expected gradient layout. Pass it in production: without it the first
   * update's layout is the reference, so one malformed first update would get
   * the honest ones rejected.
   */
  specs?: readonly TensorSpec[];
  /** When false, any failure in the round skips it (returns null), as Flower's `accept_failures`. Default true. */
  acceptFailures?: boolean;
  /** Fewest usable updates needed to aggregate; fewer returns null. Default 1. */
  minUpdates?: number;
}

export const BASE_OPTION_KEYS = ['specs', 'acceptFailures', 'minUpdates'] as const;

/**
 * Splits `results` into updates fit to aggregate and rejections, checking in
 * order: duplicate worker id (BAD_ARGUMENT; a result counts at most once),
 * sample count and staleness (BAD_ARGUMENT), layout (SHAPE_MISMATCH), and
 * finiteness (NON_FINITE). Never throws for bad input: failures are data.
 */
export function screenUpdates(
  results: readonly ClientUpdate[],
  specs?: readonly TensorSpec[],
): { accepted: ClientUpdate[]; rejected: Rejection[] } {
  const accepted: ClientUpdate[] = [];
  const rejected: Rejection[] = [];
  const seen = new Set<string>();
  let ref: readonly TensorSpec[] | undefined = specs;
  for (const u of results) {
    const reject = (code: ErrorCode, reason: string) => rejected.push({ workerId: u.workerId, code, reason });
    if (seen.has(u.workerId)) {
      reject(ErrorCodes.BAD_ARGUMENT, 'duplicate result from this worker in one round');
      continue;
    }
    seen.add(u.workerId);
    if (!(Number.isFinite(u.samples) && u.samples > 0)) {
      reject(ErrorCodes.BAD_ARGUMENT, `samples must be > 0, got ${u.samples}`);
      continue;
    }
    if (u.staleness !== undefined && !(Number.isFinite(u.staleness) && u.staleness >= 0)) {
      reject(ErrorCodes.BAD_ARGUMENT, `staleness must be >= 0, got ${u.staleness}`);
      continue;
    }
    if (ref) {
      try {
        assertLayout(u.grads, ref, 'grads');
      } catch (e) {
        if (!isDuelError(e)) throw e;
        reject(e.code, e.message);
        continue;
      }
    }
    // Received tensors were checked by the protocol validator already; anything else is read here.
    if (!wasFoundFinite(u.grads) && !allFinite(u.grads)) {
      reject(ErrorCodes.NON_FINITE, 'gradients contain NaN or Infinity');
      continue;
    }
    ref ??= u.grads;
    accepted.push(u);
  }
  return { accepted, rejected };
}

/** What a concrete strategy returns from {@link BaseStrategy.combine}. */
export interface Combined {
  grads: NamedWeights;
  /** Screened updates this strategy chose to leave out (e.g. Krum's outliers). */
  rejected?: Rejection[];
}

/**
 * Shared round handling: screening, failure policy, bookkeeping. A concrete
 * strategy only implements `combine` over updates that are already known to
 * be finite and of one layout, like a Flower strategy overriding only
 * `aggregate_fit`'s arithmetic.
 */
export abstract class BaseStrategy implements AggregationStrategy {
  abstract readonly name: string;
  readonly paper?: string;
  private readonly specs?: readonly TensorSpec[];
  private readonly acceptFailures: boolean;
  private readonly minUpdates: number;
  private totals: StrategyCounts = { rounds: 0, skipped: 0, received: 0, used: 0, rejected: 0, failures: 0, rejectedByCode: {} };
  private last: readonly Rejection[] = [];

  protected constructor(options: BaseStrategyOptions = {}) {
    const minUpdates = options.minUpdates ?? 1;
    if (!(Number.isInteger(minUpdates) && minUpdates >= 1)) {
      throw new DuelError(ErrorCodes.BAD_ARGUMENT, `minUpdates must be an integer >= 1, got ${minUpdates}`);
    }
    this.specs = options.specs;
    this.acceptFailures = options.acceptFailures ?? true;
    this.minUpdates = minUpdates;
  }

  /** Combines n ≥ minUpdates screened updates (finite, one layout, samples > 0). */
  protected abstract combine(updates: readonly ClientUpdate[]): Combined;

  aggregate(results: readonly ClientUpdate[], failures: readonly Failure[] = []): AggregateOutcome {
    const t = this.totals;
    t.rounds++;
    t.received += results.length;
    t.failures += failures.length;
    const { accepted, rejected } = screenUpdates(results, this.specs);
    let outcome: AggregateOutcome = null;
    if ((this.acceptFailures || failures.length === 0) && accepted.length >= this.minUpdates) {
      const combined = this.combine(accepted);
      const out = new Set((combined.rejected ?? []).map((r) => r.workerId));
      rejected.push(...(combined.rejected ?? []));
      const used = accepted.filter((u) => !out.has(u.workerId)).map((u) => u.workerId);
      outcome = { grads: combined.grads, used, rejected: inputOrder(results, rejected) };
      t.used += used.length;
    } else {
      t.skipped++;
    }
    this.last = outcome ? outcome.rejected : inputOrder(results, rejected);
    t.rejected += rejected.length;
    for (const r of rejected) t.rejectedByCode[r.code] = (t.rejectedByCode[r.code] ?? 0) + 1;
    return outcome;
  }

  counts(): StrategyCounts {
    return { ...this.totals, rejectedByCode: { ...this.totals.rejectedByCode } };
  }

  get lastRejected(): readonly Rejection[] {
    return this.last;
  }
}

/** Sorts rejections into the order their workers appear in `results` (stable for duplicates). */
function inputOrder(results: readonly ClientUpdate[], rejected: Rejection[]): Rejection[] {
  const pos = new Map<string, number>();
  results.forEach((u, i) => {
    if (!pos.has(u.workerId)) pos.set(u.workerId, i);
  });
  return [...rejected].sort((a, b) => (pos.get(a.workerId) ?? 0) - (pos.get(b.workerId) ?? 0));
}
