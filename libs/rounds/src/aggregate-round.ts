import { releaseGradients, weightedMean, type AggregationStrategy, type ClientUpdate, type Failure } from '@duel/aggregation';
import { isDuelError, type ErrorCode, type NamedWeights } from '@duel/util';
import { RoundErrorCodes } from './codes';
import type { AcceptedResult, Phase, StrategyConfig, UpdateMetricsCommand, WorkerKind } from './types';

/** A shard with no usable answer, for the strategy's `failures` (Flower's failures-as-data). */
export interface ShardFailure extends Failure {
  kind: WorkerKind;
}

export interface RoundAggregate {
  /** The combined gradient, or null: keep the weights as they are. */
  grads: NamedWeights | null;
  /** Results that went into `grads`, in input order. */
  used: AcceptedResult[];
  /** Results left out, with why, in input order. */
  rejected: { result: AcceptedResult; code: ErrorCode }[];
}

export function isPerKind(s: StrategyConfig): s is { node: AggregationStrategy; volunteer: AggregationStrategy } {
  return typeof (s as AggregationStrategy).aggregate !== 'function';
}

/**
 * Runs the strategy over one update's results. Each result enters as a
 * ClientUpdate whose `workerId` is its taskId, because one worker may compute
 * several shards of a round and strategies reject repeated worker ids. The
 * `sender` names the worker, for the strategies' per-worker memory (quarantine,
 * history screen). The sample weight is the task's batch, which the coordinator chose, not the
 * worker's claim; within one update every task has the same phase, so it is
 * proportional to the local trainer's `stats.samples` and the mean is bit-for-bit
 * the same. `staleness` is left out: async discounting travels in
 * ApplyUpdate.scale, and must not be applied twice.
 *
 * With one strategy per worker kind, each kind's results go to its strategy
 * and the two outputs are combined by their used sample counts (for two mean
 * strategies, that is the mean over all results).
 */
export function aggregateResults(strategy: StrategyConfig, results: readonly AcceptedResult[], failures: readonly ShardFailure[] = []): RoundAggregate {
  const groups: [AggregationStrategy, AcceptedResult[], ShardFailure[]][] = [];
  if (isPerKind(strategy)) {
    for (const kind of ['node', 'volunteer'] as const) {
      const rs = results.filter((r) => r.kind === kind);
      const fs = failures.filter((f) => f.kind === kind);
      if (rs.length > 0 || fs.length > 0) groups.push([strategy[kind], rs, fs]);
    }
  } else {
    groups.push([strategy, [...results], [...failures]]);
  }
  const used = new Set<string>();
  const codes = new Map<string, ErrorCode>();
  const parts: { grads: NamedWeights; samples: number }[] = [];
  for (const [strat, rs, fs] of groups) {
    const updates: ClientUpdate[] = rs.map((r) => ({ workerId: r.taskId, sender: r.workerId, grads: r.grads, samples: r.batch, kind: r.kind }));
    let outcome;
    try {
      outcome = strat.aggregate(updates, fs.map(({ workerId, code, reason }) => ({ workerId, code, reason })));
    } catch (e) {
      // A strategy reports bad input as data; a DuelError here still must not stop the run.
      if (!isDuelError(e)) throw e;
      for (const r of rs) codes.set(r.taskId, e.code);
      continue;
    }
    for (const rej of outcome?.rejected ?? strat.lastRejected) codes.set(rej.workerId, rej.code);
    if (!outcome) continue;
    let samples = 0;
    for (const id of outcome.used) used.add(id);
    for (const r of rs) if (used.has(r.taskId)) samples += r.batch;
    parts.push({ grads: outcome.grads, samples });
  }
  let grads: NamedWeights | null = null;
  if (parts.length === 1) grads = parts[0].grads;
  else if (parts.length > 1) {
    grads = weightedMean(
      parts.map((p) => p.grads),
      parts.map((p) => p.samples),
    );
    // The per-kind aggregates are spent; their buffers serve the next round.
    for (const p of parts) releaseGradients(p.grads);
  }
  const out: RoundAggregate = { grads, used: [], rejected: [] };
  for (const r of results) {
    if (grads && used.has(r.taskId)) out.used.push(r);
    else out.rejected.push({ result: r, code: codes.get(r.taskId) ?? RoundErrorCodes.ROUND_SKIPPED });
  }
  return out;
}

/** UpdateMetrics for the results that went into an update: means weighted by each task's batch; null when none. */
export function roundMetrics(phase: Phase, step: number, used: readonly AcceptedResult[]): UpdateMetricsCommand | null {
  if (used.length === 0) return null;
  let n = 0;
  let loss = 0;
  let dReal = 0;
  let dFake = 0;
  let samples = 0;
  for (const { batch, stats } of used) {
    n += batch;
    loss += stats.loss * batch;
    dReal += stats.dReal * batch;
    dFake += stats.dFake * batch;
    samples += Number.isFinite(stats.samples) && stats.samples > 0 ? stats.samples : batch;
  }
  return { type: 'UpdateMetrics', phase, step, loss: loss / n, dReal: dReal / n, dFake: dFake / n, samples };
}
