import type { NamedWeights } from '@duel/util';

/** What every checkpoint's JSON part carries; the coordinator adds its own fields. */
export interface CheckpointMeta {
  runId: string;
  /** Completed training steps (G updates) in this checkpoint. */
  step: number;
  /** Wall clock (ms) when it was taken. */
  createdAt: number;
  [field: string]: unknown;
}

/** A checkpoint as the store sees it: JSON metadata plus named float32 tensors (weights, Adam moments, EMA). */
export interface CheckpointData<M extends CheckpointMeta = CheckpointMeta> {
  meta: M;
  tensors: NamedWeights;
}

/** Where a checkpoint lives: `id` is a file name or a Redis key. */
export interface CheckpointRef {
  id: string;
  seq: number;
  step: number;
  bytes: number;
  createdAt: number;
}

/** A checkpoint that was refused on load, and why (its DuelError message, with the stable code). */
export interface RefusedCheckpoint {
  id: string;
  code: string;
  message: string;
}

export interface LoadedCheckpoint<M extends CheckpointMeta = CheckpointMeta> {
  ref: CheckpointRef;
  data: CheckpointData<M>;
  /** Newer checkpoints that failed verification and were skipped, newest first. */
  refused: RefusedCheckpoint[];
}

export type RunStatus = 'running' | 'complete';

/** The run as a store records it, so a restarted coordinator knows what to resume. */
export interface RunRecord {
  runId: string;
  status: RunStatus;
  /** The coordinator's options (RunConfig and round settings), as JSON. */
  config: Record<string, unknown>;
  startedAt: number;
  updatedAt: number;
}

export interface RegisteredWorker {
  id: string;
  kind: string;
  backend: string;
  device: string;
  /** Wall clock (ms) of the latest heartbeat. */
  seenAt: number;
}

export interface Credit {
  workerId: string;
  /** Results of this worker that were applied. */
  applied: number;
  /** Samples those results processed. */
  samples: number;
}

export interface MetricsPoint {
  t: number;
  step: number;
  [metric: string]: number | null;
}

export type StoreKind = 'memory' | 'redis';

/**
 * Run state, checkpoints and the worker registry behind one interface, so the
 * coordinator holds logic only (Immich's "repository" providers). Two
 * implementations: {@link MemoryStateStore} (the default; checkpoints as
 * atomic files under a data directory when one is given) and
 * {@link RedisStateStore}.
 *
 * Checkpoint writes are atomic: the new checkpoint is written in full first,
 * then the "latest" pointer is switched to it. A checkpoint that fails its
 * checks (torn, truncated, flipped bits) is never loaded; `loadCheckpoint`
 * reports it in `refused` and returns the newest one that passes.
 */
export interface StateStore {
  readonly kind: StoreKind;
  /** Human-readable location (a directory, a Redis URL without credentials, "memory"). */
  readonly location: string;
  /** Connects (Redis) or creates the data directory. Throws DUEL_ERR_STORE_UNAVAILABLE when it cannot. */
  open(): Promise<void>;
  close(): Promise<void>;
  /** True when the store answers now (readiness probes). Never throws. */
  ping(): Promise<boolean>;
  /** Subscribes to "the store is back after an outage" (Redis reconnects); returns an unsubscribe function. */
  onReconnect(listener: () => void): () => void;

  saveRun(run: RunRecord): Promise<void>;
  loadRun(): Promise<RunRecord | null>;

  /** Writes the checkpoint, then switches the latest pointer to it; keeps the few newest. */
  writeCheckpoint(cp: CheckpointData): Promise<CheckpointRef>;
  /** The newest checkpoint that verifies, or null when there is none. */
  loadCheckpoint<M extends CheckpointMeta = CheckpointMeta>(): Promise<LoadedCheckpoint<M> | null>;
  listCheckpoints(): Promise<CheckpointRef[]>;

  /** Registers or refreshes a worker; it disappears `ttlMs` after its last heartbeat. */
  heartbeat(worker: RegisteredWorker, ttlMs: number): Promise<void>;
  removeWorker(id: string): Promise<void>;
  liveWorkers(): Promise<RegisteredWorker[]>;

  /** Records that `holder` holds `key` (a shard of a round) for `ttlMs`. */
  lease(key: string, holder: string, ttlMs: number): Promise<void>;
  releaseLease(key: string): Promise<void>;
  leaseHolder(key: string): Promise<string | null>;

  addCredit(workerId: string, applied: number, samples: number): Promise<void>;
  credits(): Promise<Credit[]>;

  /** Refuses a malformed point (DUEL_ERR_BAD_ARGUMENT, nothing stored); a NaN metric is kept as null. */
  appendMetrics(point: MetricsPoint): Promise<void>;
  /** The newest `limit` points, oldest first; what a resumed coordinator charts again. */
  metricsHistory(limit?: number): Promise<MetricsPoint[]>;
}

/** Checkpoints kept besides the latest one, so a refused latest still leaves a good one behind. */
export const KEEP_CHECKPOINTS = 3;
/** Metrics points a store keeps. */
export const MAX_METRICS_POINTS = 5000;
