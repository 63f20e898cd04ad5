import type { DashboardMessage, DashboardRun, DashboardWorker } from '@duel/api-types';
import type { CoordinatorService } from './coordinator.service';

/**
 * Builds the dashboard's messages for one subscriber: each call returns the
 * run's state plus the history points this subscriber has not seen yet.
 */
export class DashboardFeed {
  private sentQuality = 0;
  private lastT = -1;

  constructor(private readonly svc: CoordinatorService) {}

  next(): DashboardMessage {
    const first = this.lastT < 0;
    const { recorder, qualityHistory } = this.svc;
    // History is a bounded array (old points drop off the front): track by time, not index.
    const history = recorder.history.filter((h) => h.t > this.lastT);
    const quality = qualityHistory.slice(first ? 0 : this.sentQuality);
    this.sentQuality = qualityHistory.length;
    if (history.length) this.lastT = history[history.length - 1].t;
    else if (first) this.lastT = 0;
    return { kind: first ? 'snapshot' : 'tick', t: Date.now(), run: runSummary(this.svc), metrics: { ...recorder.latest }, quality: this.svc.quality, workers: dashboardWorkers(this.svc), history, qualityHistory: quality };
  }
}

export function runSummary(svc: CoordinatorService): DashboardRun {
  const { opts, state } = svc;
  const r = svc.roundSettings();
  return {
    id: svc.runId,
    dataset: opts.run.dataset,
    model: opts.run.model,
    mode: opts.mode,
    step: state.step,
    steps: opts.run.steps,
    phase: svc.phase(),
    state: r.paused && !svc.done ? 'paused' : svc.runState(),
    versions: { g: state.versions.G, d: state.versions.D },
    paused: r.paused,
    k: r.k,
    strategy: strategyName(r.strategy),
    lrScale: { ...svc.lrScale },
    lr: { D: opts.run.lrD * svc.lrScale.D, G: opts.run.lrG * svc.lrScale.G },
    controls: Boolean(opts.adminToken),
  };
}

function strategyName(s: ReturnType<CoordinatorService['roundSettings']>['strategy']): string {
  if ('aggregate' in s) return s.name;
  return `node=${s.node.name},volunteer=${s.volunteer.name}`;
}

export function dashboardWorkers(svc: CoordinatorService): DashboardWorker[] {
  return svc.workerStats().map((w) => ({
    id: w.id,
    kind: w.kind,
    backend: w.backend,
    device: w.device,
    tasks: w.accepted + w.rejected,
    accepted: w.accepted,
    rejected: w.rejected,
    imgsPerSec: w.imgsPerSec,
    lastSeen: w.lastSeen,
    staleness: w.staleness,
    credit: (w as { credit?: number }).credit ?? w.samples,
    connected: w.connected,
  }));
}
