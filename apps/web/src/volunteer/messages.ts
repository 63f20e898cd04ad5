import type { VolunteerStatus } from '@duel/worker-core';

/** page → Web Worker */
export type ToWorker =
  | { type: 'start'; origin: string; backend: string; share: number; invite?: string; microBatch?: number }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'share'; share: number }
  | { type: 'stop' };

/** Web Worker → page */
export type FromWorker =
  | { type: 'backend'; name: string; device: string; reason: string }
  | { type: 'status'; status: VolunteerStatus }
  | { type: 'log'; level: string; event: string; fields: Record<string, unknown> }
  | { type: 'error'; message: string }
  | { type: 'stopped' };
