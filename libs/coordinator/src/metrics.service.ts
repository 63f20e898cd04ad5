import { Injectable } from '@nestjs/common';
import { summarize, type RoundCommand, type RoundEvent, type RoundState } from '@duel/rounds';
import type { QualityReport } from '@duel/trainer';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the scrape-time gauges read from the running coordinator. */
export interface MetricsSources {
  rounds(): RoundState | undefined;
  quality(): QualityReport | null;
}

/**
 * Prometheus metrics, all named duel_*. One registry per coordinator instance,
 * so several coordinators in one process (tests) never collide.
 *
 * `duel_round_shards` is the autoscaling signal (docs/deploy-kubernetes.md):
 * the shards per update, i.e. how many workers the run can keep busy at once.
 * An HPA with an AverageValue target of 1 per pod asks for that many workers.
 * `duel_shards_pending` shows starvation: shards of the open round waiting for
 * a free worker (> 0 only while fewer workers are idle than shards are open).
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private sources: MetricsSources | null = null;
  readonly step = new Gauge({ name: 'duel_step', help: 'Completed training steps (G-updates)', registers: [this.registry] });
  readonly version = new Gauge({ name: 'duel_weights_version', help: 'Weights version per net', labelNames: ['net'], registers: [this.registry] });
  readonly rounds = new Counter({ name: 'duel_rounds_total', help: 'Applied updates (rounds) per phase', labelNames: ['phase'], registers: [this.registry] });
  readonly loss = new Gauge({ name: 'duel_loss', help: 'Latest loss per net (D: L_D, G: L_G)', labelNames: ['net'], registers: [this.registry] });
  readonly dReal = new Gauge({ name: 'duel_d_real', help: 'Latest mean D(x) on real data (equilibrium 0.5)', registers: [this.registry] });
  readonly dFake = new Gauge({ name: 'duel_d_fake', help: 'Latest mean D(G(z)) (equilibrium 0.5)', registers: [this.registry] });
  readonly quality = new Gauge({
    name: 'duel_quality',
    help: 'Latest quality report of the sampling G (2-D: modes, modesBalanced, hq, reverseKL; MNIST: classifier score)',
    labelNames: ['metric'],
    registers: [this.registry],
    collect: () => this.collectQuality(),
  });
  readonly workers = new Gauge({ name: 'duel_workers', help: 'Connected workers', labelNames: ['kind', 'backend'], registers: [this.registry] });
  readonly workersBusy = new Gauge({
    name: 'duel_workers_busy',
    help: 'Workers computing a task',
    registers: [this.registry],
    collect: () => this.collectRounds(),
  });
  readonly workersIdle = new Gauge({ name: 'duel_workers_idle', help: 'Joined workers without a task', registers: [this.registry], collect: () => this.collectRounds() });
  readonly shardsPending = new Gauge({
    name: 'duel_shards_pending',
    help: 'Shards of the open round waiting for a free worker (queue depth)',
    registers: [this.registry],
    collect: () => this.collectRounds(),
  });
  readonly roundShards = new Gauge({
    name: 'duel_round_shards',
    help: 'Sync: shards per update, the workers the run can keep busy (the autoscaling signal); --shards auto and async: the workers',
    registers: [this.registry],
    collect: () => this.collectRounds(),
  });
  readonly results = new Counter({ name: 'duel_results_total', help: 'Results by status and code', labelNames: ['status', 'code'], registers: [this.registry] });
  readonly validations = new Counter({
    name: 'duel_validations_total',
    help: 'Validation by redundancy, per shard verdict: agreed (replicas or a node worker decided), mismatch (replicas disagreed, one more sent), failed (too many disagreed)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly rejections = new Counter({ name: 'duel_rejections_total', help: 'Refused frames and results by code', labelNames: ['code'], registers: [this.registry] });
  readonly tasksSent = new Counter({ name: 'duel_tasks_sent_total', help: 'Tasks sent; attempt="retry" counts shards reassigned after a straggler or a lost worker', labelNames: ['phase', 'attempt'], registers: [this.registry] });
  readonly bytesIn = new Counter({ name: 'duel_bytes_in_total', help: 'WebSocket bytes received', registers: [this.registry] });
  readonly bytesOut = new Counter({ name: 'duel_bytes_out_total', help: 'WebSocket bytes sent', registers: [this.registry] });
  readonly samples = new Counter({ name: 'duel_samples_total', help: 'Samples processed by accepted results', registers: [this.registry] });
  readonly staleness = new Histogram({ name: 'duel_staleness', help: 'Staleness (versions behind) of applied results', buckets: [0, 1, 2, 4, 8, 16], registers: [this.registry] });
  readonly roundSeconds = new Histogram({
    name: 'duel_round_seconds',
    help: 'Round latency: sync, from round open to update applied; async, from task sent to its update applied',
    labelNames: ['phase'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly computeSeconds = new Histogram({
    name: 'duel_result_compute_seconds',
    help: "A worker's own compute time per result (its stats.computeMs, as it reports it: parts computed before the task arrived included), by worker kind and backend",
    labelNames: ['kind', 'backend'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly taskSeconds = new Histogram({
    name: 'duel_task_seconds',
    help: "From a task being sent to its result being received: the worker's compute plus the weights, task and result on the wire and their encoding and decoding on both sides",
    labelNames: ['kind', 'backend'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly aggregationSeconds = new Histogram({ name: 'duel_aggregation_seconds', help: 'Time to aggregate and apply one update', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25], registers: [this.registry] });
  /** Watches the round machine's events and commands for the latency and staleness histograms. */
  readonly observer = new RoundObserver(this);

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'duel_process_' });
  }

  /** Called once by the coordinator service: the scrape-time gauges read from here. */
  bind(sources: MetricsSources): void {
    this.sources = sources;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  private collectQuality(): void {
    const q = this.sources?.quality();
    if (!q) return;
    for (const [metric, v] of Object.entries(q)) if (typeof v === 'number' && Number.isFinite(v)) this.quality.set({ metric }, v);
  }

  private collectRounds(): void {
    const st = this.sources?.rounds();
    if (!st) return;
    const s = summarize(st);
    this.workersBusy.set(s.busy);
    this.workersIdle.set(s.workers - s.busy);
    this.shardsPending.set(s.round?.pending ?? 0);
    // Between rounds, the configured count; 'auto' means "as many as there are workers". Async tasks
    // are whole batches, each idle worker gets one: the workers themselves, so no pressure either way.
    const configured = st.config.shards === 'auto' ? s.workers : st.config.shards;
    this.roundShards.set(st.config.mode === 'sync' ? (s.round?.numShards ?? configured) : s.workers);
  }
}

/** At most this many task timings are remembered (a lost task's entry must not live forever). */
const MAX_TRACKED = 4096;

/**
 * Derives round latency and staleness from the round machine's traffic: it
 * sees each event before the machine does and each command after, and keeps
 * only bounded maps keyed by taskId.
 */
export class RoundObserver {
  private openedAt: number | null = null;
  private readonly sentAt = new Map<string, number>();
  private readonly stalenessOf = new Map<string, number>();
  private lastEvent: RoundEvent | null = null;

  constructor(private readonly m: MetricsService) {}

  /** When the task was sent (ms, the clock of command()), while its result is awaited. */
  sentAtOf(taskId: string): number | undefined {
    return this.sentAt.get(taskId);
  }

  /** Call with the state *before* `ev` is applied. */
  before(st: RoundState, ev: RoundEvent, current: { G: number; D: number }): void {
    this.lastEvent = ev;
    this.openedAt = st.config.mode === 'sync' ? (st.round?.openedAt ?? null) : null;
    if (ev.type === 'ResultReceived') {
      const net = ev.phase;
      const at = net === 'G' ? ev.versions.g : ev.versions.d;
      remember(this.stalenessOf, ev.taskId, Math.max(0, current[net] - at));
    }
  }

  command(cmd: RoundCommand, now: number): void {
    switch (cmd.type) {
      case 'SendTask':
        remember(this.sentAt, cmd.task.taskId, now);
        return;
      case 'Ack':
        if (cmd.status === 'applied' && this.stalenessOf.has(cmd.taskId)) this.m.staleness.observe(this.stalenessOf.get(cmd.taskId)!);
        this.stalenessOf.delete(cmd.taskId);
        this.sentAt.delete(cmd.taskId);
        return;
      case 'ApplyUpdate': {
        const ev = this.lastEvent;
        const from = this.openedAt ?? (ev?.type === 'ResultReceived' ? this.sentAt.get(ev.taskId) : undefined);
        if (from !== undefined) this.m.roundSeconds.observe({ phase: cmd.net }, Math.max(0, now - from) / 1000);
        return;
      }
      default:
    }
  }
}

function remember(m: Map<string, number>, key: string, v: number): void {
  if (m.size >= MAX_TRACKED) m.delete(m.keys().next().value!);
  m.set(key, v);
}
