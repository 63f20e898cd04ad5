import type { Capabilities, TaskFrame, WaitFrame, WelcomeFrame, WorkerKind } from '@duel/protocol';
import { ErrorCodes, type DuelError, type ErrorCode } from '@duel/util';
import type { WorkerCounters } from './counters';
import type { DatasetProvider } from './task-runner';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface FatalInfo {
  /** Reconnecting cannot help (bad token, other protocol, this worker lacks the dataset or cannot build the model). */
  permanent: boolean;
  /** True when the coordinator sent the error, false when this worker detected it. */
  remote: boolean;
  retryAfterMs?: number;
}

export interface WorkerSessionEvents {
  /** A welcome was handled; `reused` when the model of the previous connection was kept. */
  welcome(frame: WelcomeFrame, reused: boolean): void;
  counters(counters: Readonly<WorkerCounters>): void;
  /** The coordinator has no work; with `reconnect` it closes and the worker returns after retryAfterMs. */
  wait(frame: WaitFrame): void;
  /** The connection was ended by an error (this session already closed it). */
  fatal(err: DuelError, info: FatalInfo): void;
  log(level: LogLevel, event: string, fields: Record<string, unknown>): void;
}

export interface WorkerSessionOptions {
  kind: WorkerKind;
  capabilities: Capabilities;
  token?: string;
  loadDataset: DatasetProvider;
  /** The most samples run through the nets at once (TaskRunner): larger task batches run in micro-batches. */
  microBatch?: number;
  /** Awaited before each task starts, e.g. a volunteer throttling to a duty cycle. */
  beforeTask?: (task: TaskFrame) => Promise<void>;
  /** Monotonic ms, for computeMs and silence (default performance.now). */
  now?: () => number;
  /** Wall-clock ms for pong.ts (default Date.now). */
  clock?: () => number;
  /** Heartbeat assumed until a welcome names one (ms). */
  defaultHeartbeatMs?: number;
  events?: Partial<WorkerSessionEvents>;
}

/** Errors after which reconnecting is futile: the same hello or the same run fails the same way. */
export const PERMANENT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCodes.UNAUTHORIZED,
  ErrorCodes.PROTOCOL_VERSION,
  ErrorCodes.BAD_SPEC,
  ErrorCodes.UNKNOWN_MODEL,
  ErrorCodes.UNKNOWN_DATASET,
  ErrorCodes.DATASET_MISSING,
  ErrorCodes.DATASET_CORRUPT,
]);

/** Tasks a worker holds at once: one computing and one queued, so the next starts without a round trip. */
export const MAX_PENDING_TASKS = 2;
