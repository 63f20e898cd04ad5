import type { CodecSpec } from '@duel/protocol';
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
  /** Also checkpoint every T seconds when a step completed since (0 = steps only). */
  checkpointSecs?: number;
  /** Where state and checkpoints live (libs/store): Redis when redisUrl is set, else memory with files under dataDir. */
  store?: { redisUrl?: string; dataDir?: string; prefix?: string };
  /** true: continue from the store's last checkpoint (DUEL_ERR_CHECKPOINT_MISSING if none); 'auto': when the store holds a running run. */
  resume?: boolean | 'auto';
  /** Stop serving once the run completes (used by `duel train` and tests). */
  exitOnComplete?: boolean;
  /** Gradient codec workers are asked to send results with (PROTOCOL.md §3.4); a worker that does not offer it sends fp32. Default fp32. */
  codec?: CodecSpec;
  /**
   * The codec volunteers (browser workers) are asked for instead of `codec`:
   * their uplinks are the slow ones (a home uplink, and Chromium's WebSocket,
   * BENCHMARKS.md figure 9), so a run may keep node workers at fp32 and have
   * volunteers send fp16 or int8. Default: `codec`.
   */
  codecVolunteer?: CodecSpec;
  /** Aggregation strategy name for node workers. */
  strategy: string;
  /** Strategy for volunteers' results (each kind aggregated apart, then combined by used samples); default: `strategy`. */
  strategyVolunteer?: string;
  /**
   * Validation by redundancy of volunteers' results (sync mode, fp32 codec;
   * libs/rounds validated-shards.ts): each volunteer shard goes to `replicas`
   * volunteers (default 2) whose gradients must agree within `tolerance`
   * (relative L2, default DEFAULT_VALIDATION_TOLERANCE). Absent: off.
   */
  validation?: { tolerance?: number; replicas?: number };
  /** DUEL_ADMIN_TOKEN: dashboard controls need it as a bearer token (AdminGuard); unset = controls off. */
  adminToken?: string;
  /**
   * DUEL_SESSION_SECRET: HMAC key for volunteer sessions and (derived apart) for
   * resume tokens, so both survive restarts; default random per-run keys.
   */
  sessionSecret?: string;
  /** DUEL_VOLUNTEER_INVITE: when set, a volunteer session needs this invite token. */
  volunteerInvite?: string;
  /** Lifetime of a volunteer session token. */
  sessionTtlMs: number;
  /** Volunteer session requests per client IP: burst and refill per second. */
  sessionRate: { burst: number; perSecond: number };
  /** Open WebSocket connections, in total and per client IP; beyond, DUEL_ERR_TOO_MANY_CONNECTIONS. */
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Frames a connection may send: burst and per second; beyond, DUEL_ERR_RATE_LIMITED. */
  frameRate: { burst: number; perSecond: number };
  /** Bytes a connection may send: burst and per second (a byte budget; results of big models need room). */
  byteRate: { burst: number; perSecond: number };
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
    sessionTtlMs: 30 * 60_000,
    sessionRate: { burst: 10, perSecond: 0.2 },
    maxConnections: 4096,
    maxConnectionsPerIp: 256,
    frameRate: { burst: 2000, perSecond: 1000 },
    byteRate: { burst: 512 * 1024 * 1024, perSecond: 256 * 1024 * 1024 },
    ...Object.fromEntries(Object.entries(over).filter(([, v]) => v !== undefined)),
  };
}
