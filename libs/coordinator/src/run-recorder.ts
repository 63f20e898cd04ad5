import type { HistoryPoint, LatestMetrics, StatusWorker } from '@duel/api-types';
import type { MetricsPoint } from '@duel/store';
import type { ErrorCode } from '@duel/util';

/** A worker's ledger (GET /api/status) plus whether it is connected now. */
export interface WorkerStats extends StatusWorker {
  connected: boolean;
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

/** How many workers that have left keep their ledger here (the store keeps their credit). */
export const MAX_DEPARTED_WORKERS = 1000;

/**
 * What the status API and dashboard read: latest metrics, a bounded history,
 * and per-worker counters. Plain bookkeeping, no I/O.
 *
 * Every connected worker has its ledger here, and so do the `maxDeparted`
 * that left most recently, so that a reconnect (with its resume token) finds
 * its counters. Beyond that the oldest departed ledger is retired: volunteers
 * come and go for the life of a run, and without a bound this map, and
 * /api/status with it, would grow with every tab ever opened. A retired
 * ledger waits in {@link takeRetired} until the checkpointer has added its
 * last credit to the store, which keeps credit for good.
 */
export class RunRecorder {
  private readonly workersById = new Map<string, WorkerStats>();
  /** Ids of departed workers, oldest departure first (a Set iterates in insertion order; a rejoin deletes). */
  private readonly departed = new Set<string>();
  private retired: WorkerStats[] = [];

  constructor(private readonly maxDeparted = MAX_DEPARTED_WORKERS) {}

  /**
   * The rate window: per key (undefined = overall, else a worker id) its samples in time order from `head`,
   * and their running sum, so a rate is O(1) and trimming O(1) per entry.
   */
  private readonly windows = new Map<string | undefined, { log: { t: number; n: number }[]; head: number; sum: number }>();
  readonly history: HistoryPoint[] = [];
  latest: LatestMetrics = { step: 0, dLoss: null, gLoss: null, dReal: null, dFake: null, imgsPerSec: 0 };
  private readonly maxHistory = 2000;

  join(id: string, kind: 'node' | 'volunteer', backend: string, device: string): void {
    this.departed.delete(id);
    const w = this.workersById.get(id);
    if (w) Object.assign(w, { kind, backend, device, connected: true, lastSeen: Date.now() });
    else
      this.workersById.set(id, { id, kind, backend, device, accepted: 0, rejected: 0, rejectedByCode: {}, samples: 0, imgsPerSec: 0, lastSeen: Date.now(), connected: true, staleness: 0, results: 0, credit: 0 });
  }

  leave(id: string): void {
    const w = this.workersById.get(id);
    if (!w || this.departed.has(id)) return;
    w.connected = false;
    this.departed.add(id);
    // Beyond the bound, the ledger of the oldest departure is retired.
    for (const oldest of this.departed) {
      if (this.departed.size <= this.maxDeparted) break;
      this.departed.delete(oldest);
      this.retired.push(this.workersById.get(oldest)!);
      this.workersById.delete(oldest);
      this.windows.delete(oldest);
    }
  }

  /** Ledgers retired since the last call (oldest first); the caller settles their credit. */
  takeRetired(): WorkerStats[] {
    const out = this.retired;
    this.retired = [];
    return out;
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
    this.log(now, samples, id);
  }

  metrics(m: MetricsCommand, now = Date.now()): void {
    if (m.phase === 'D') Object.assign(this.latest, { dLoss: m.loss, dReal: m.dReal });
    else Object.assign(this.latest, { gLoss: m.loss, dFake: m.dFake, step: m.step });
    this.log(now, m.samples);
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

  /**
   * Puts a resumed run's stored history back (oldest first), so the charts
   * show the steps from before the restart. A point whose step is not above
   * the one before it starts a later life of the store (steps redone after a
   * crash, or a fresh run on the same store): it replaces the points it
   * redoes. Points past `checkpointStep` are dropped: the run does them again.
   */
  restore(points: readonly MetricsPoint[], checkpointStep: number): void {
    const kept: HistoryPoint[] = [];
    for (const p of points) {
      if (p.step > checkpointStep) continue;
      while (kept.length && kept[kept.length - 1].step >= p.step) kept.pop();
      kept.push({ t: p.t, step: p.step, dLoss: p['dLoss'] ?? null, gLoss: p['gLoss'] ?? null, dReal: p['dReal'] ?? null, dFake: p['dFake'] ?? null, imgsPerSec: p['imgsPerSec'] ?? 0 });
    }
    this.history.splice(0, this.history.length, ...kept.slice(-this.maxHistory));
    const { t: _t, ...last } = this.history.at(-1) ?? { t: 0, ...this.latest };
    // No throughput yet: the rate window starts with this process.
    this.latest = { ...last, step: checkpointStep, imgsPerSec: 0 };
  }

  workers(connectedIds: string[], now = Date.now()): WorkerStats[] {
    this.trim(now);
    const live = new Set(connectedIds);
    return [...this.workersById.values()].map((w) => ({ ...w, connected: live.has(w.id), imgsPerSec: this.rate(now, w.id) }));
  }

  private log(t: number, n: number, workerId?: string): void {
    let w = this.windows.get(workerId);
    if (!w) this.windows.set(workerId, (w = { log: [], head: 0, sum: 0 }));
    w.log.push({ t, n });
    w.sum += n;
  }

  /** Drops samples older than the window, and the keys left with none. */
  private trim(now: number): void {
    for (const [key, w] of this.windows) {
      while (w.head < w.log.length && now - w.log[w.head].t > RATE_WINDOW_MS) w.sum -= w.log[w.head++].n;
      if (w.head === w.log.length) this.windows.delete(key);
      else if (w.head > 1024 && w.head * 2 > w.log.length) {
        w.log.splice(0, w.head);
        w.head = 0;
      }
    }
  }

  /** Samples per second over the window: overall (entries without workerId) or per worker. */
  private rate(now: number, workerId?: string): number {
    const w = this.windows.get(workerId);
    if (!w || w.sum <= 0) return 0;
    const span = Math.max(1000, now - w.log[w.head].t);
    return Math.round((w.sum * 1000) / span);
  }
}
