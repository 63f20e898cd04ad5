/**
 * The JSON bodies of the coordinator's HTTP API (SYSTEM.md "HTTP and
 * WebSocket"). libs/coordinator builds them and apps/web reads them; both
 * import these declarations, so a field changed on one side fails the other's
 * typecheck. Types only: nothing here reaches a bundle at run time.
 */

/** The newest training metrics; a loss or D output is null until its phase has reported. */
export interface LatestMetrics {
  step: number;
  dLoss: number | null;
  gLoss: number | null;
  /** Mean D(x) on real data in the latest D round. */
  dReal: number | null;
  /** Mean D(G(z)) in the latest G round. */
  dFake: number | null;
  imgsPerSec: number;
}

/** One point of the metrics history: the metrics after a G step, at wall clock `t` (ms). */
export type HistoryPoint = LatestMetrics & { t: number };

/**
 * A quality report (libs/trainer QualityReport): the 2-D metrics SYSTEM.md
 * defines, or the classifier score for image datasets.
 */
export type QualityJson =
  | { kind: '2d'; modes: number; modesBalanced: number; hq: number; reverseKL: number; numCentres: number; n: number }
  | { kind: 'image'; classifierScore: number; n: number };

/** One quality evaluation, at training step `step` and wall clock `t` (ms). */
export type QualityPoint = { step: number; t: number } & QualityJson;

/** One worker's ledger in GET /api/status. */
export interface StatusWorker {
  id: string;
  kind: 'node' | 'volunteer';
  backend: string;
  device: string;
  accepted: number;
  rejected: number;
  rejectedByCode: Record<string, number>;
  samples: number;
  imgsPerSec: number;
  lastSeen: number;
  /** Versions behind the coordinator's weights of this worker's last result (0 = fresh). */
  staleness: number;
  /** Results this worker sent that reached the round machine (well-formed, any verdict). */
  results: number;
  /** Samples of its accepted results; never granted for rejected work. */
  credit: number;
}

/** GET /api/status. */
export interface StatusResponse {
  run: {
    id: string;
    dataset: string;
    model: string;
    step: number;
    steps: number;
    phase: string;
    versions: { g: number; d: number };
    state: 'waiting' | 'training' | 'complete';
    mode: string;
    /** The run's RunConfig (libs/trainer). */
    config: object;
  };
  metrics: LatestMetrics;
  quality: QualityJson | null;
  /** Every connected worker and the 1,000 that left most recently (RunRecorder). */
  workers: StatusWorker[];
}

/** GET /api/history: the recorded metrics (bounded, oldest first) and every quality evaluation. */
export interface HistoryResponse {
  history: HistoryPoint[];
  quality: QualityPoint[];
}

/** One worker row of the dashboard's table. */
export interface DashboardWorker {
  id: string;
  kind: 'node' | 'volunteer';
  backend: string;
  device: string;
  /** Results answered (accepted + rejected). */
  tasks: number;
  accepted: number;
  rejected: number;
  imgsPerSec: number;
  lastSeen: number;
  staleness: number;
  /** Samples of this worker's applied results (the credit a worker earns). */
  credit: number;
  connected: boolean;
}

/** The run as the dashboard shows it, with the settings its controls change. */
export interface DashboardRun {
  id: string;
  dataset: string;
  model: string;
  mode: string;
  step: number;
  steps: number;
  phase: string;
  state: string;
  versions: { g: number; d: number };
  paused: boolean;
  k: number;
  strategy: string;
  lrScale: { D: number; G: number };
  lr: { D: number; G: number };
  /** False when the coordinator has no DUEL_ADMIN_TOKEN: every control is refused. */
  controls: boolean;
}

/** What /api/events sends: a full snapshot first, then ticks with what is new. */
export interface DashboardMessage {
  kind: 'snapshot' | 'tick';
  t: number;
  run: DashboardRun;
  metrics: LatestMetrics;
  quality: QualityJson | null;
  workers: DashboardWorker[];
  /** Snapshot: the whole recorded history; tick: points since the previous message. */
  history: HistoryPoint[];
  qualityHistory: QualityPoint[];
}

/** GET /api/model: the run's model spec (as the welcome frame carries it) and its data shape. */
export interface ModelInfo {
  run: string;
  dataset: string;
  spec: Record<string, unknown>;
  dataShape: number[];
}

/** The body of every refusal of the HTTP API (4xx/5xx): a stable DUEL_ERR_* code and a sentence. */
export interface ApiError {
  code: string;
  message: string;
  /** With DUEL_ERR_RATE_LIMITED: when to ask again. */
  retryAfterMs?: number;
}
