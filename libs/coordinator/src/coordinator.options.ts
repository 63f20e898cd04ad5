import type { RunConfig } from '@duel/trainer';

export const COORDINATOR_OPTIONS = Symbol('COORDINATOR_OPTIONS');

/** Everything the coordinator is started with; read once, validated, then cached. */
export interface CoordinatorOptions {
  port: number;
  host: string;
  run: RunConfig;
  mode: 'sync' | 'async';
  /** Shards per update: a fixed number (exactly reproducible), or 'auto' (= active workers). */
  shards: number | 'auto';
  /** Async: how many versions behind a result may be. */
  staleness: number;
  /** After this a task is reassigned to another worker. */
  taskTimeoutMs: number;
  /** Sync: the fraction of shards that may close a round at the deadline (1 = all). */
  quorum: number;
  heartbeatMs: number;
  handshakeTimeoutMs: number;
  /** DUEL_WORKER_TOKEN: when set, node workers must present it. */
  workerToken?: string;
  /** Checkpoint every N steps (0 = only at the end and on shutdown). */
  checkpointEvery: number;
  /** Stop serving once the run completes (used by `duel train` and tests). */
  exitOnComplete?: boolean;
  /** Aggregation strategy name for node workers. */
  strategy: string;
}

export function defaultCoordinatorOptions(run: RunConfig, over: Partial<CoordinatorOptions> = {}): CoordinatorOptions {
  return {
    port: 8080,
    host: '127.0.0.1',
    run,
    mode: 'sync',
    shards: 'auto',
    staleness: 4,
    taskTimeoutMs: 30_000,
    quorum: 1,
    heartbeatMs: 5_000,
    handshakeTimeoutMs: 10_000,
    checkpointEvery: 0,
    strategy: 'mean',
    ...Object.fromEntries(Object.entries(over).filter(([, v]) => v !== undefined)),
  };
}
