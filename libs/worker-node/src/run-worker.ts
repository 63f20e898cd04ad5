import { resolveDataset } from '@duel/datasets';
import { nodeDatasetLoader } from '@duel/datasets-node';
import { CloseCodes, type WorkerKind } from '@duel/protocol';
import { Rng } from '@duel/util';
import { Backoff, WorkerSession, type BackoffOptions, type DatasetProvider, type LogLevel } from '@duel/worker-core';
import type WebSocket from 'ws';
import { Attacker, type AttackPlan } from './attacker';
import { stderrLogger, type LogFn } from './json-logger';
import { startMetricsServer } from './metrics-server';
import { openConnection, type MaskMode } from './ws-connection';

export const NODE_BACKENDS = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type NodeBackendPref = (typeof NODE_BACKENDS)[number];

export interface SelectedBackendInfo {
  name: string;
  device: string;
  reason: string;
}

export interface RunWorkerOptions {
  /** ws://HOST:PORT/ws */
  coordinator: string;
  token?: string;
  backend?: NodeBackendPref;
  kind?: WorkerKind;
  /** Largest task batch this worker accepts (hello.capabilities.maxBatch). */
  maxBatch?: number;
  /**
   * The most samples run through the nets at once: a larger task batch runs in
   * micro-batches whose gradients are summed on the device and read back once
   * (StepOptions.microBatch). For a GPU with too little memory for a batch.
   */
  microBatch?: number;
  /** Serve Prometheus /metrics, /healthz and /readyz (connected) on this port (0 = any free port). */
  metricsPort?: number;
  /** How long stop() waits for the in-flight task before leaving anyway (ms). */
  graceMs?: number;
  backoff?: BackoffOptions;
  /** Seed of the reconnect jitter; default pid ^ time, so a fleet started together spreads out. */
  jitterSeed?: number;
  logLevel?: LogLevel;
  /** Injection points (tests, embedders). */
  log?: LogFn;
  selectBackend?: (pref: NodeBackendPref) => Promise<SelectedBackendInfo>;
  loadDataset?: DatasetProvider;
  /** WebSocket masking keys of the frames it sends (ws-connection.ts: maskMode; default 'zero'). */
  wsMask?: MaskMode;
  /** FOR TESTS ONLY (`--attack`, needs DUEL_ALLOW_ATTACKS=1): send attacked gradients (attacker.ts). */
  attack?: AttackPlan;
}

export interface WorkerHandle {
  readonly session: WorkerSession;
  readonly backend: SelectedBackendInfo;
  /** The metrics port actually bound, when metricsPort was given. */
  readonly metricsPort: number | null;
  /** Resolves when the worker stopped after stop(); rejects on a permanent error (bad token, missing dataset...). */
  readonly done: Promise<void>;
  /** Finishes the in-flight task (at most graceMs), sends bye, closes with 1000. */
  stop(reason?: string): Promise<void>;
}

/** Watchdog tick. Silence is judged at 3 heartbeats, so this only sets the detection latency. */
const TICK_MS = 100;

/**
 * The Node worker runtime: one WorkerSession, reconnected over `ws` with
 * exponential backoff and full jitter, a heartbeat watchdog, and a clean stop.
 */
export async function runWorker(opts: RunWorkerOptions): Promise<WorkerHandle> {
  const log = opts.log ?? stderrLogger(opts.logLevel);
  const backend = await (opts.selectBackend ?? defaultSelectBackend)(opts.backend ?? 'auto');
  log('info', 'backend', { backend: backend.name, device: backend.device, reason: backend.reason, ...(opts.microBatch ? { microBatch: opts.microBatch } : {}) });

  const backoff = new Backoff(new Rng(opts.jitterSeed ?? (process.pid ^ Date.now()) >>> 0), opts.backoff);
  let retryFloorMs = 0;
  let stopping = false;
  let ws: WebSocket | null = null;
  let reconnectTimer: NodeJS.Timeout | null = null;
  let settle!: { resolve: () => void; reject: (e: unknown) => void };
  const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  // Marked handled here; whoever awaits `done` still sees the rejection.
  done.catch(() => undefined);

  const loadDataset = opts.loadDataset ?? ((name: string) => resolveDataset(name, nodeDatasetLoader()));
  const attacker = opts.attack ? new Attacker(opts.attack, loadDataset) : null;
  if (attacker) log('warn', 'byzantine', { attacks: opts.attack!.attacks, note: 'this worker sends attacked gradients (test only)' });
  const session = new WorkerSession({
    kind: opts.kind ?? 'node',
    token: opts.token,
    capabilities: { backend: backend.name, device: backend.device, maxBatch: opts.maxBatch ?? 4096 },
    loadDataset,
    microBatch: opts.microBatch,
    events: {
      log: (level, event, fields) => log(level, event, fields),
      welcome: () => backoff.reset(),
      wait: (f) => {
        if (f.reconnect) retryFloorMs = f.retryAfterMs;
      },
      fatal: (err, info) => {
        if (info.permanent) void stop(err.code, err);
        else retryFloorMs = info.retryAfterMs ?? 0;
      },
    },
  });

  const metrics =
    opts.metricsPort === undefined
      ? null
      : await startMetricsServer(opts.metricsPort, () => ({
          counters: session.counters,
          connected: session.connected,
          workerId: session.workerId,
          backend: backend.name,
          device: backend.device,
        }));
  if (metrics) log('info', 'metrics', { port: metrics.port });

  const closeWaiters: (() => void)[] = [];
  const connect = () => {
    reconnectTimer = null;
    if (stopping) return;
    log('info', 'connect', { url: opts.coordinator, workerId: session.workerId, attempt: backoff.attempts });
    ws = openConnection(
      opts.coordinator,
      {
        open: (transport) => session.onOpen(attacker ? attacker.wrap(transport) : transport),
        message: (bytes) => {
          attacker?.observe(bytes);
          session.onMessage(bytes);
        },
        error: (err) => log('warn', 'socket-error', { workerId: session.workerId, message: err.message }),
        close: (code, reason) => {
          ws = null;
          session.onClose();
          log('info', 'closed', { workerId: session.workerId, code, reason });
          closeWaiters.splice(0).forEach((w) => w());
          if (stopping) return;
          const delayMs = backoff.next(retryFloorMs);
          retryFloorMs = 0;
          log('info', 'reconnect', { workerId: session.workerId, delayMs, attempt: backoff.attempts });
          reconnectTimer = setTimeout(connect, delayMs);
        },
      },
      { mask: opts.wsMask ?? 'zero' },
    );
  };
  // Heartbeat watchdog (PROTOCOL.md): no frame for 3 intervals means the peer
  // or the path is dead, even if TCP has not noticed; terminate and reconnect.
  let lastTick = performance.now();
  const watchdog = setInterval(() => {
    const now = performance.now();
    // A tick that comes late means our own event loop was blocked (a long
    // synchronous kernel): pings may be waiting unread in the socket, so judge
    // silence only on a punctual tick.
    const punctual = now - lastTick < 2 * TICK_MS;
    lastTick = now;
    if (!punctual || !ws || !session.connected || session.silentMs() <= session.deadAfterMs) return;
    log('warn', 'heartbeat-timeout', { workerId: session.workerId, silentMs: Math.round(session.silentMs()) });
    ws.terminate();
  }, TICK_MS);

  async function stop(reason = 'stop', err?: unknown): Promise<void> {
    if (stopping) return done.catch(() => undefined);
    stopping = true;
    if (reconnectTimer) clearTimeout(reconnectTimer);
    const graceMs = opts.graceMs ?? 5_000;
    log('info', 'stopping', { workerId: session.workerId, reason, graceMs });
    // Finish the in-flight task first: frames after bye are refused by the coordinator.
    if (!err && !(await withTimeout(session.drain(), graceMs))) log('warn', 'grace-expired', { workerId: session.workerId });
    clearInterval(watchdog);
    await leave(reason);
    session.dispose();
    await metrics?.close();
    if (backend.name === 'webgpu') await releaseWebGpu();
    log(err ? 'error' : 'info', 'stopped', { workerId: session.workerId, counters: { ...session.counters }, error: err instanceof Error ? err.message : undefined });
    if (err) settle.reject(err);
    else settle.resolve();
  }

  /** Sends bye when connected and waits (briefly) for the close handshake, so bye is not lost in a reset. */
  async function leave(reason: string): Promise<void> {
    const socket = ws;
    if (!socket) return;
    const closed = new Promise<void>((r) => closeWaiters.push(r));
    if (session.connected) session.bye(reason);
    else if (socket.readyState !== socket.CLOSING) socket.close(CloseCodes.NORMAL, reason);
    if (!(await withTimeout(closed, 2_000))) socket.terminate();
  }

  connect();
  return { session, backend, metricsPort: metrics?.port ?? null, done, stop };
}

/** Resolves true when `p` settled within `ms`, false otherwise (p keeps running). */
async function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// gan-node loads native modules (Dawn, libtensorflow) when asked; importing it
// lazily keeps them out of processes that inject their own backend.
async function defaultSelectBackend(pref: NodeBackendPref): Promise<SelectedBackendInfo> {
  const { selectNodeBackend } = await import('@duel/gan-node');
  return selectNodeBackend(pref);
}

async function releaseWebGpu(): Promise<void> {
  const { releaseNodeWebGpu } = await import('@duel/gan-node');
  releaseNodeWebGpu();
}
