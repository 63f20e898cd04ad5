import { Controller, Get, Inject, Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { HistoryPoint } from '@duel/api-types';
import { CloseCodes } from '@duel/protocol';
import { currentPending, currentPosition, type AsyncRetry, type RoundCommand, type RoundEvent, type RoundState, type StartPosition } from '@duel/rounds';
import { weightsDigest, type CheckpointData, type StateStore } from '@duel/store';
import type { TrainingState } from '@duel/trainer';
import { checkpointOf, type CoordinatorCheckpointMeta } from './checkpoint-mapping';
import { COORDINATOR_OPTIONS, type CoordinatorOptions } from './coordinator.options';
import { MetricsService } from './metrics.service';
import { RECOVERY, type Recovery } from './recovery.token';
import type { WorkerStats } from './run-recorder';
import { WorkerConnections } from './worker-connections';
import { WorkerIdentity } from './worker-identity';

/** What the checkpointer reads from the coordinator service (bound in its onModuleInit). */
export interface CheckpointSource {
  readonly runId: string;
  readonly state: TrainingState;
  isDone(): boolean;
  rounds(): RoundState;
  handle(event: RoundEvent): void;
  workerStats(): WorkerStats[];
  /** Ledgers of departed workers the recorder has let go since the last call (RunRecorder.takeRetired). */
  retiredWorkerStats(): WorkerStats[];
  /** The newest point of the recorder's metrics history (undefined before the first G step). */
  latestPoint(): HistoryPoint | undefined;
}

/** How long a graceful shutdown waits for the final checkpoint write. */
const SHUTDOWN_FLUSH_MS = 15_000;

/**
 * The coordinator's side effects on its StateStore: checkpoints (on the round
 * machine's Checkpoint command, written in the background, newest wins), the
 * run record, worker heartbeats with TTL, shard leases, credit and metrics
 * history; catching the store up after an outage; and the graceful shutdown.
 * A store failure never stops training: the coordinator goes on from memory,
 * counts the failure, and writes a fresh checkpoint once the store answers.
 */
@Injectable()
export class Checkpointer {
  private readonly log = new Logger('Checkpointer');
  private src: CheckpointSource | null = null;
  private readonly store: StateStore;
  /** Results applied over the run's lifetime (restored from the checkpoint). */
  appliedResults: number;
  private pending: CheckpointData<CoordinatorCheckpointMeta> | null = null;
  private writing: Promise<void> | null = null;
  private behind = false;
  private catchingUp = false;
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private stopping: Promise<void> | null = null;
  private readonly credited = new Map<string, { accepted: number; samples: number }>();
  /** Retired ledgers whose last credit is not in the store yet. */
  private retiring: WorkerStats[] = [];
  readonly stats = {
    written: 0,
    failed: 0,
    catchUps: 0,
    lastError: null as string | null,
    last: null as { id: string; step: number; at: number; ms: number; bytes: number } | null,
  };
  private readonly m: {
    checkpoints: Counter<'result'>;
    step: Gauge;
    seconds: Histogram;
    storeUp: Gauge;
    applied: Gauge;
  };

  constructor(
    @Inject(RECOVERY) private readonly recovery: Recovery,
    @Inject(COORDINATOR_OPTIONS) private readonly opts: CoordinatorOptions,
    @Inject(MetricsService) metrics: MetricsService,
    @Inject(WorkerConnections) private readonly conns: WorkerConnections,
    @Inject(WorkerIdentity) private readonly identity: WorkerIdentity,
  ) {
    this.store = recovery.store;
    this.appliedResults = recovery.resumed?.meta.appliedResults ?? 0;
    const registers = [metrics.registry];
    this.m = {
      checkpoints: new Counter({ name: 'duel_checkpoints_total', help: 'Checkpoint writes by result (ok, failed)', labelNames: ['result'], registers }),
      step: new Gauge({ name: 'duel_checkpoint_step', help: 'Training step of the latest checkpoint written', registers }),
      seconds: new Histogram({ name: 'duel_checkpoint_write_seconds', help: 'Time to write one checkpoint', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers }),
      storeUp: new Gauge({ name: 'duel_store_up', help: '1 while the state store answers', registers }),
      applied: new Gauge({ name: 'duel_applied_results', help: 'Results applied over the run lifetime, across restarts (exactly-once accounting)', registers }),
    };
    this.m.applied.set(this.appliedResults);
    this.m.storeUp.set(1);
    if (recovery.resumed) this.m.step.set(recovery.resumed.meta.step);
  }

  /** Starts the bookkeeping for `src`; called once the round machine exists. */
  bind(src: CheckpointSource): void {
    this.src = src;
    void this.saveRun('running');
    this.unsubscribe = this.store.onReconnect(() => void this.catchUp('store reconnected'));
    this.timer = setInterval(() => void this.sync(), Math.max(200, Math.min(this.opts.heartbeatMs, 5_000)));
    this.timer.unref();
  }

  /** Sees every command the service carried out (after it did). */
  observe(cmd: RoundCommand): void {
    switch (cmd.type) {
      case 'Checkpoint':
        if (this.src) this.enqueue(this.snapshot(cmd.next, cmd.resolved, cmd.pending));
        return;
      case 'Ack':
        if (cmd.status === 'applied') this.m.applied.set(++this.appliedResults);
        this.quiet(this.store.releaseLease(cmd.taskId.replace(/\.\d+$/, '')));
        return;
      case 'SendTask':
        this.quiet(this.store.lease(cmd.task.taskId.replace(/\.\d+$/, ''), cmd.workerId, cmd.task.deadlineMs));
        return;
      case 'UpdateMetrics': {
        // The recorder has already added this G step's point (the service runs a command first): store
        // the same point, with D's numbers too, so a resumed coordinator charts it again.
        const point = cmd.phase === 'G' ? this.src?.latestPoint() : undefined;
        if (point) this.quiet(this.store.appendMetrics({ ...point }));
        return;
      }
      case 'RunComplete':
        void this.flush().then(() => this.saveRun('complete'));
        return;
      default:
        return;
    }
  }

  /**
   * The training state now, at the machine's current position (a consistent cut: nothing half-applied),
   * with the async positions in flight or waiting to be issued again, as a Checkpoint command has them.
   */
  snapshotNow(): CheckpointData<CoordinatorCheckpointMeta> {
    const st = this.src!.rounds();
    const p = currentPosition(st);
    return this.snapshot({ ...p, versions: { ...st.versions } }, [...st.resolved], currentPending(st));
  }

  private snapshot(next: StartPosition, resolved: [string, 'consumed' | 'closed'][], pending: AsyncRetry[] | undefined): CheckpointData<CoordinatorCheckpointMeta> {
    const src = this.src!;
    const { run, mode, shards } = this.opts;
    // The resume key travels in the meta so workers keep their ids across a restart (WorkerIdentity).
    const position = { next, resolved, ...(pending ? { pending } : {}) };
    return checkpointOf(src.runId, src.state, { run, mode, shards, resumeKey: this.identity.checkpointKey() }, position, this.appliedResults);
  }

  /** Queues a write; a newer snapshot replaces one still waiting (the newest wins). */
  private enqueue(cp: CheckpointData<CoordinatorCheckpointMeta>): void {
    this.pending = cp;
    this.writing ??= this.drain().finally(() => (this.writing = null));
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const cp = this.pending;
      this.pending = null;
      const t0 = performance.now();
      try {
        const ref = await this.store.writeCheckpoint(cp);
        const ms = performance.now() - t0;
        this.stats.written++;
        this.stats.last = { id: ref.id, step: ref.step, at: Date.now(), ms: Math.round(ms * 10) / 10, bytes: ref.bytes };
        this.m.checkpoints.inc({ result: 'ok' });
        this.m.seconds.observe(ms / 1000);
        this.m.step.set(ref.step);
        this.m.storeUp.set(1);
        this.behind = false;
      } catch (e) {
        this.stats.failed++;
        this.stats.lastError = (e as Error).message;
        this.m.checkpoints.inc({ result: 'failed' });
        this.m.storeUp.set(0);
        if (!this.behind) this.log.error(`checkpoint at step ${cp.meta.step} not written (training goes on from memory): ${(e as Error).message}`);
        this.behind = true;
      }
    }
  }

  /** Resolves when every queued checkpoint has been written (or failed). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** After an outage: the run record, a fresh checkpoint of the current state, and the registry. */
  async catchUp(why: string): Promise<void> {
    if (!this.src || this.catchingUp || this.stopping) return;
    this.catchingUp = true;
    try {
      this.log.warn(`catching the store up (${why})`);
      await this.saveRun(this.src.isDone() ? 'complete' : 'running');
      this.enqueue(this.snapshotNow());
      await this.flush();
      if (!this.behind) {
        this.stats.catchUps++;
        this.credited.clear();
        await this.sync();
      }
    } finally {
      this.catchingUp = false;
    }
  }

  /** Periodic: heartbeats of connected workers (TTL 3 intervals), credit, and a retry when the store is behind. */
  private async sync(): Promise<void> {
    if (!this.src) return;
    const up = await this.store.ping();
    this.m.storeUp.set(up ? 1 : 0);
    if (!up) {
      this.behind = true;
      return;
    }
    if (this.behind && !this.catchingUp) return this.catchUp('store answers again');
    const ttl = 3 * this.opts.heartbeatMs;
    // Retired ledgers first: their last credit goes to the store, then what was counted for them here goes, so
    // that a retired worker that comes back (a fresh ledger under the same id) is counted from zero.
    this.retiring.push(...this.src.retiredWorkerStats());
    let settled = 0;
    while (settled < this.retiring.length && (await this.credit(this.retiring[settled]))) this.credited.delete(this.retiring[settled++].id);
    this.retiring.splice(0, settled);
    if (this.retiring.length > 0) return;
    for (const w of this.src.workerStats()) {
      try {
        if (w.connected) await this.store.heartbeat({ id: w.id, kind: w.kind, backend: w.backend, device: w.device, seenAt: w.lastSeen }, ttl);
      } catch {
        this.behind = true;
        return;
      }
      if (!(await this.credit(w))) return;
    }
  }

  /** Adds what `w` earned since the last call to the store's ledger; false (and behind) when the store failed. */
  private async credit(w: WorkerStats): Promise<boolean> {
    const seen = this.credited.get(w.id) ?? { accepted: 0, samples: 0 };
    if (w.accepted <= seen.accepted && w.samples <= seen.samples) return true;
    try {
      await this.store.addCredit(w.id, w.accepted - seen.accepted, w.samples - seen.samples);
    } catch {
      this.behind = true;
      return false;
    }
    this.credited.set(w.id, { accepted: w.accepted, samples: w.samples });
    return true;
  }

  private async saveRun(status: 'running' | 'complete'): Promise<void> {
    const src = this.src;
    if (!src) return;
    const { run, mode, shards } = this.opts;
    const startedAt = this.recovery.resumed?.meta.createdAt ?? Date.now();
    try {
      await this.store.saveRun({ runId: src.runId, status, config: { run, mode, shards }, startedAt, updatedAt: Date.now() });
    } catch (e) {
      this.behind = true;
      this.stats.lastError = (e as Error).message;
    }
  }

  /**
   * Graceful shutdown (SIGTERM): the machine stops issuing, abandons the open
   * round and emits Checkpoint plus a `wait shutting_down` per worker; the
   * checkpoint is written; then every socket is closed with 4503 so workers
   * reconnect after retryAfterMs. Idempotent.
   */
  shutdown(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.src && !this.src.isDone()) this.src.handle({ type: 'Shutdown', now: Date.now() });
      const flushed = await Promise.race([this.flush().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), SHUTDOWN_FLUSH_MS).unref())]);
      if (!flushed) this.log.error(`the final checkpoint was not written within ${SHUTDOWN_FLUSH_MS} ms`);
      else if (this.stats.last) this.log.log(`final checkpoint ${this.stats.last.id} at step ${this.stats.last.step}`);
      for (const c of this.conns.all()) this.conns.close(c, CloseCodes.SHUTTING_DOWN, 'coordinator shutting down; reconnect');
      if (this.timer) clearInterval(this.timer);
      this.unsubscribe?.();
      await this.store.close();
    })();
    return this.stopping;
  }

  status() {
    const resumed = this.recovery.resumed;
    return {
      store: { kind: this.store.kind, location: this.store.location, behind: this.behind },
      resumedFrom: resumed ? { checkpoint: resumed.checkpointId, step: resumed.meta.step, next: resumed.meta.next, refused: resumed.refused } : null,
      appliedResults: this.appliedResults,
      step: this.src?.state.step ?? 0,
      /** sha256 of G then D weights (names, shapes, raw bytes): equal digests mean bit-identical weights (as `duel local --json`). */
      weightsDigest: this.src ? weightsDigest(this.src.state.weights.G, this.src.state.weights.D) : null,
      checkpoints: { ...this.stats },
    };
  }

  /** Store calls on the task path are fire-and-forget: an outage must not slow or stop training. */
  private quiet(p: Promise<unknown>): void {
    p.catch(() => {
      this.behind = true;
    });
  }
}


/** GET /api/recovery: the store, the checkpoint resumed from, the latest checkpoint, exactly-once counters. */
@Controller()
export class RecoveryController {
  constructor(@Inject(Checkpointer) private readonly checkpointer: Checkpointer) {}

  @Get('api/recovery')
  status() {
    return this.checkpointer.status();
  }
}
