export type { Transport } from './transport';
export { createCounters, type WorkerCounters } from './counters';
export { Backoff, type BackoffOptions } from './backoff';
export { TaskRunner, type DatasetProvider, type TaskOutput } from './task-runner';
export { WorkerSession } from './worker-session';
export { GradientCompressor, SUPPORTED_CODECS } from './gradient-compressor';
export {
  MAX_PENDING_TASKS,
  PERMANENT_CODES,
  type FatalInfo,
  type LogLevel,
  type WorkerSessionEvents,
  type WorkerSessionOptions,
} from './session-options';
export { MAX_THROTTLE_MS, throttleDelayMs } from './throttle';
export {
  VolunteerRuntime,
  type SessionToken,
  type SocketLike,
  type VolunteerRuntimeOptions,
  type VolunteerState,
  type VolunteerStatus,
} from './volunteer-runtime';
