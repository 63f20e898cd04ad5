import type { ErrorCode } from '@duel/util';

export interface WorkerStats {
  id: string;
  kind: 'node' | 'volunteer';
  backend: string;
  device: string;
  accepted: number;
  rejected: number;
  rejectedByCode: Record<string, number>;
  samples: number;
  imgsPerSec: number;
  lastSeen: number;
  connected: boolean;
  /** Versions behind the coordinator's weights of this worker's last result (0 = fresh). */
  staleness: number;
  /** Ledger: results this worker sent that reached the round machine (well-formed, any verdict). */
  results: number;
  /** Ledger: credit, the samples of its results that were accepted (applied, and validated where the run validates); never granted for rejected work. */
  credit: number;
}

export interface LatestMetrics {
  step: number;
  dLoss: number | null;
  gLoss: number | null;
  dReal: number | null;
  dFake: number | null;
  imgsPerSec: number;
}

interface MetricsCommand {
  phase: 'D' | 'G';
  step: number;
  loss: number;
  dReal: number;
  dFake: number;
  samples: number;
}

/** Throughput over this window (a moving rate, not a lifetime average). */
const RATE_WINDOW_MS = 10_000;

/**
 * What the status API and dashboard read: latest metrics, a bounded history,
 * and per-worker counters. Plain bookkeeping, no I/O.
 */
export class RunRecorder {
  private readonly workersById = new Map<string, WorkerStats>();
  private readonly sampleLog: { t: number; n: number; workerId?: string }[] = [];
  readonly history: (LatestMetrics & { t: number })[] = [];
  latest: LatestMetrics = { step: 0, dLoss: null, gLoss: null, dReal: null, dFake: null, imgsPerSec: 0 };
  private readonly maxHistory = 2000;

  join(id: string, kind: 'node' | 'volunteer', backend: string, device: string): void {
    const w = this.workersById.get(id);
    if (w) Object.assign(w, { kind, backend, device, connected: true, lastSeen: Date.now() });
    else
      this.workersById.set(id, { id, kind, backend, device, accepted: 0, rejected: 0, rejectedByCode: {}, samples: 0, imgsPerSec: 0, lastSeen: Date.now(), connected: true, staleness: 0, results: 0, credit: 0 });
  }

  leave(id: string): void {
    const w = this.workersById.get(id);
    if (w) w.connected = false;
  }

  ack(id: string, status: string, code?: ErrorCode): void {
    const w = this.workersById.get(id);
    if (!w) return;
    w.lastSeen = Date.now();
    if (status === 'applied') w.accepted++;
    else if (status === 'rejected') this.rejected(id, code ?? 'DUEL_ERR_REJECTED');
  }

  rejected(id: string, code: ErrorCode): void {
    const w = this.workersById.get(id);
    if (!w) return;
    w.rejected++;
    w.rejectedByCode[code] = (w.rejectedByCode[code] ?? 0) + 1;
  }

  /** How many versions behind the worker's latest result was computed. */
  staleness(id: string, versionsBehind: number): void {
    const w = this.workersById.get(id);
    if (w) w.staleness = versionsBehind;
  }

  /** A result from this worker reached the round machine (its verdict comes with ack()). */
  received(id: string): void {
    const w = this.workersById.get(id);
    if (w) w.results++;
  }

  /** Samples a worker's accepted result processed: they count as samples and as credit. Call only for applied results. */
  contributed(id: string, samples: number, now = Date.now()): void {
    const w = this.workersById.get(id);
    if (w) {
      w.samples += samples;
      w.credit += samples;
      w.lastSeen = now;
    }
    this.sampleLog.push({ t: now, n: samples, workerId: id });
  }

  metrics(m: MetricsCommand, now = Date.now()): void {
    if (m.phase === 'D') Object.assign(this.latest, { dLoss: m.loss, dReal: m.dReal });
    else Object.assign(this.latest, { gLoss: m.loss, dFake: m.dFake, step: m.step });
    this.sampleLog.push({ t: now, n: m.samples });
    this.trim(now);
    this.latest.imgsPerSec = this.rate(now);
    if (m.phase === 'G') {
      this.history.push({ t: now, ...this.latest });
      if (this.history.length > this.maxHistory) this.history.splice(0, this.history.length - this.maxHistory);
    }
  }

  step(step: number): void {
    this.latest.step = step;
  }

  workers(connectedIds: string[], now = Date.now()): WorkerStats[] {
    this.trim(now);
    const live = new Set(connectedIds);
    return [...this.workersById.values()].map((w) => ({ ...w, connected: live.has(w.id), imgsPerSec: this.rate(now, w.id) }));
  }

  private trim(now: number): void {
    let i = 0;
    while (i < this.sampleLog.length && now - this.sampleLog[i].t > RATE_WINDOW_MS) i++;
    if (i) this.sampleLog.splice(0, i);
  }

  /** Samples per second over the window: overall (entries without workerId) or per worker. */
  private rate(now: number, workerId?: string): number {
    const entries = this.sampleLog.filter((e) => (workerId ? e.workerId === workerId : e.workerId === undefined));
    if (entries.length === 0) return 0;
    const span = Math.max(1000, now - entries[0].t);
    return Math.round((entries.reduce((s, e) => s + e.n, 0) * 1000) / span);
  }
}
