import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics, all named duel_*. One registry per coordinator instance,
 * so several coordinators in one process (tests) never collide.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly step = new Gauge({ name: 'duel_step', help: 'Completed training steps (G-updates)', registers: [this.registry] });
  readonly version = new Gauge({ name: 'duel_weights_version', help: 'Weights version per net', labelNames: ['net'], registers: [this.registry] });
  readonly rounds = new Counter({ name: 'duel_rounds_total', help: 'Applied updates (rounds) per phase', labelNames: ['phase'], registers: [this.registry] });
  readonly loss = new Gauge({ name: 'duel_loss', help: 'Latest loss per net (D: L_D, G: L_G)', labelNames: ['net'], registers: [this.registry] });
  readonly dReal = new Gauge({ name: 'duel_d_real', help: 'Latest mean D(x) on real data (equilibrium 0.5)', registers: [this.registry] });
  readonly dFake = new Gauge({ name: 'duel_d_fake', help: 'Latest mean D(G(z)) (equilibrium 0.5)', registers: [this.registry] });
  readonly quality = new Gauge({ name: 'duel_quality', help: 'Latest quality metrics', labelNames: ['metric'], registers: [this.registry] });
  readonly workers = new Gauge({ name: 'duel_workers', help: 'Connected workers', labelNames: ['kind', 'backend'], registers: [this.registry] });
  readonly results = new Counter({ name: 'duel_results_total', help: 'Results by status and code', labelNames: ['status', 'code'], registers: [this.registry] });
  readonly rejections = new Counter({ name: 'duel_rejections_total', help: 'Refused frames and results by code', labelNames: ['code'], registers: [this.registry] });
  readonly tasksSent = new Counter({ name: 'duel_tasks_sent_total', help: 'Tasks sent; attempt="retry" counts shards reassigned after a straggler or a lost worker', labelNames: ['phase', 'attempt'], registers: [this.registry] });
  readonly bytesIn = new Counter({ name: 'duel_bytes_in_total', help: 'WebSocket bytes received', registers: [this.registry] });
  readonly bytesOut = new Counter({ name: 'duel_bytes_out_total', help: 'WebSocket bytes sent', registers: [this.registry] });
  readonly samples = new Counter({ name: 'duel_samples_total', help: 'Samples processed by accepted results', registers: [this.registry] });
  readonly staleness = new Histogram({ name: 'duel_staleness', help: 'Staleness (versions behind) of accepted results', buckets: [0, 1, 2, 4, 8, 16], registers: [this.registry] });
  readonly roundSeconds = new Histogram({ name: 'duel_round_seconds', help: 'Time from round open to update applied', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });
  readonly aggregationSeconds = new Histogram({ name: 'duel_aggregation_seconds', help: 'Time to aggregate and apply one update', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'duel_process_' });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
