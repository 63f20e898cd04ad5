import type { MetricsPoint, RefusedCheckpoint, StateStore } from '@duel/store';
import type { TrainingState } from '@duel/trainer';
import type { CoordinatorCheckpointMeta } from './checkpoint-mapping';

/** Injection token of the coordinator's Recovery (a file of its own: no import cycle with the service). */
export const RECOVERY = Symbol('RECOVERY');

/** What the coordinator starts from: its store, and the checkpoint it resumes (null for a fresh run). */
export interface Recovery {
  store: StateStore;
  resumed: {
    runId: string;
    state: TrainingState;
    meta: CoordinatorCheckpointMeta;
    checkpointId: string;
    refused: RefusedCheckpoint[];
    /** The store's metrics history, oldest first, for the dashboard's charts (RunRecorder.restore). */
    history: MetricsPoint[];
  } | null;
}
