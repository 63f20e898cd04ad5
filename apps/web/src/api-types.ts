/**
 * The coordinator's JSON the pages read (libs/coordinator: dashboard-feed.ts,
 * volunteer sessions, /api/status). Kept as types only: the browser bundle
 * never imports the Node-side coordinator.
 */
export interface LatestMetrics {
  step: number;
  dLoss: number | null;
  gLoss: number | null;
  dReal: number | null;
  dFake: number | null;
  imgsPerSec: number;
}

export interface QualityPoint {
  step: number;
  t: number;
  modes?: number;
  modesBalanced?: number;
  hq?: number;
  reverseKL?: number;
  [k: string]: unknown;
}

export interface DashboardWorker {
  id: string;
  kind: 'node' | 'volunteer';
  backend: string;
  device: string;
  tasks: number;
  accepted: number;
  rejected: number;
  imgsPerSec: number;
  lastSeen: number;
  staleness: number;
  credit: number;
  connected: boolean;
}

export interface DashboardMessage {
  kind: 'snapshot' | 'tick';
  t: number;
  run: {
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
    controls: boolean;
  };
  metrics: LatestMetrics;
  quality: Record<string, number> | null;
  workers: DashboardWorker[];
  history: (LatestMetrics & { t: number })[];
  qualityHistory: QualityPoint[];
}

export interface ModelInfo {
  run: string;
  dataset: string;
  spec: Record<string, unknown>;
  dataShape: number[];
}

/** An error body from the coordinator's HTTP API. */
export interface ApiError {
  code: string;
  message: string;
}
