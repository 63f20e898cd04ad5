import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuelError, ErrorCodes } from '@duel/util';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint-codec';
import { CheckpointFiles, atomicWrite } from './checkpoint-files';
import { MetricsFile } from './metrics-file';
import {
  KEEP_CHECKPOINTS,
  MAX_METRICS_POINTS,
  type CheckpointData,
  type CheckpointMeta,
  type CheckpointRef,
  type Credit,
  type LoadedCheckpoint,
  type MetricsPoint,
  type RefusedCheckpoint,
  type RegisteredWorker,
  type RunRecord,
  type StateStore,
} from './state-store';
import { StateStoreBase } from './state-store.base';

export interface MemoryStoreOptions {
  /** DUEL_DATA_DIR: checkpoints and the run record go here as atomic files, the metrics history as appended lines. Without it nothing outlives the process. */
  dataDir?: string;
  /** Clock for TTLs (tests). */
  now?: () => number;
}

/**
 * The embedded default: registry, leases and credit in memory; checkpoints,
 * the run record and the metrics history as files under `dataDir` when given
 * (so `duel coordinator --data-dir D --resume` survives a restart, charts
 * included), else all in memory, checkpoints as verified blobs.
 */
export class MemoryStateStore extends StateStoreBase<MemoryStoreOptions, 'now'> implements StateStore {
  readonly kind = 'memory' as const;
  private readonly files: CheckpointFiles | null;
  private readonly metricsFile: MetricsFile | null;
  private run: RunRecord | null = null;
  private readonly blobs: { ref: CheckpointRef; bytes: Uint8Array }[] = [];
  private readonly workers = new Map<string, { w: RegisteredWorker; until: number }>();
  private readonly leases = new Map<string, { holder: string; until: number }>();
  private readonly credit = new Map<string, Credit>();
  private readonly metrics: MetricsPoint[] = [];

  constructor(opts: MemoryStoreOptions = {}) {
    super(opts, { now: Date.now }, (o) => o.dataDir ?? 'memory');
    const dir = this.opts.dataDir;
    this.files = dir ? new CheckpointFiles(join(dir, 'checkpoints')) : null;
    this.metricsFile = dir ? new MetricsFile(join(dir, 'metrics.jsonl'), MAX_METRICS_POINTS) : null;
  }

  async open(): Promise<void> {
    try {
      await this.files?.init();
      if (this.metricsFile) this.metrics.splice(0, this.metrics.length, ...(await this.metricsFile.load()));
    } catch (e) {
      throw new DuelError(ErrorCodes.STORE_UNAVAILABLE, `data directory ${this.opts.dataDir}: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    // Files are closed after every write; only metrics appends may still be on their way.
    await this.metricsFile?.flush();
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async saveRun(run: RunRecord): Promise<void> {
    this.run = structuredClone(run);
    if (this.opts.dataDir) await atomicWrite(this.opts.dataDir, 'run.json', new TextEncoder().encode(JSON.stringify(run, null, 1)));
  }

  async loadRun(): Promise<RunRecord | null> {
    if (this.run || !this.opts.dataDir) return this.run ? structuredClone(this.run) : null;
    try {
      return JSON.parse(await readFile(join(this.opts.dataDir, 'run.json'), 'utf8')) as RunRecord;
    } catch {
      return null;
    }
  }

  async writeCheckpoint(cp: CheckpointData): Promise<CheckpointRef> {
    if (this.files) return this.files.write(cp);
    const bytes = encodeCheckpoint(cp);
    const seq = (this.blobs[0]?.ref.seq ?? 0) + 1;
    const ref = { id: `memory:${seq}`, seq, step: cp.meta.step, bytes: bytes.byteLength, createdAt: cp.meta.createdAt };
    this.blobs.unshift({ ref, bytes });
    this.blobs.splice(KEEP_CHECKPOINTS);
    return ref;
  }

  async loadCheckpoint<M extends CheckpointMeta>(): Promise<LoadedCheckpoint<M> | null> {
    if (this.files) return this.files.load<M>();
    const refused: RefusedCheckpoint[] = [];
    for (const { ref, bytes } of this.blobs) {
      try {
        return { ref, data: decodeCheckpoint(bytes, ref.id) as CheckpointData<M>, refused };
      } catch (e) {
        const err = e as DuelError;
        refused.push({ id: ref.id, code: err.code, message: err.message });
      }
    }
    return null;
  }

  async listCheckpoints(): Promise<CheckpointRef[]> {
    return this.files ? this.files.list() : this.blobs.map((b) => ({ ...b.ref }));
  }

  /** Test hook: the raw bytes of an in-memory checkpoint (to corrupt them). */
  blob(seq: number): Uint8Array | undefined {
    return this.blobs.find((b) => b.ref.seq === seq)?.bytes;
  }

  async heartbeat(worker: RegisteredWorker, ttlMs: number): Promise<void> {
    this.workers.set(worker.id, { w: { ...worker }, until: this.opts.now() + ttlMs });
  }

  async removeWorker(id: string): Promise<void> {
    this.workers.delete(id);
  }

  async liveWorkers(): Promise<RegisteredWorker[]> {
    const now = this.opts.now();
    for (const [id, e] of this.workers) if (e.until <= now) this.workers.delete(id);
    return [...this.workers.values()].map((e) => ({ ...e.w }));
  }

  async lease(key: string, holder: string, ttlMs: number): Promise<void> {
    this.leases.set(key, { holder, until: this.opts.now() + ttlMs });
  }

  async releaseLease(key: string): Promise<void> {
    this.leases.delete(key);
  }

  async leaseHolder(key: string): Promise<string | null> {
    const l = this.leases.get(key);
    if (!l || l.until <= this.opts.now()) {
      this.leases.delete(key);
      return null;
    }
    return l.holder;
  }

  async addCredit(workerId: string, applied: number, samples: number): Promise<void> {
    const c = this.credit.get(workerId) ?? { workerId, applied: 0, samples: 0 };
    c.applied += applied;
    c.samples += samples;
    this.credit.set(workerId, c);
  }

  async credits(): Promise<Credit[]> {
    return [...this.credit.values()].map((c) => ({ ...c }));
  }

  protected async writeMetrics(point: MetricsPoint): Promise<void> {
    this.metrics.push(point);
    if (this.metrics.length > MAX_METRICS_POINTS) this.metrics.splice(0, this.metrics.length - MAX_METRICS_POINTS);
    await this.metricsFile?.append(point, this.metrics);
  }

  protected async readMetrics(limit: number): Promise<MetricsPoint[]> {
    return this.metrics.slice(-limit).map((p) => ({ ...p }));
  }
}
