import { CloseCodes, type Capabilities } from '@duel/protocol';
import { ErrorCodes, Rng } from '@duel/util';
import { Backoff, type BackoffOptions } from './backoff';
import type { WorkerCounters } from './counters';
import type { LogLevel } from './session-options';
import type { DatasetProvider } from './task-runner';
import { throttleDelayMs } from './throttle';
import { WorkerSession } from './worker-session';

/** The part of the WHATWG WebSocket API the runtime uses (a browser's WebSocket, or `ws` in Node). */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

const OPEN = 1;

/** A volunteer session token (POST /api/volunteer/session). */
export interface SessionToken {
  token: string;
  expiresAt: number;
}

export type VolunteerState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'paused' | 'stopped' | 'failed';

export interface VolunteerStatus {
  state: VolunteerState;
  workerId: string | null;
  counters: WorkerCounters;
  /** Samples per second over the last few results (compute plus throttle), 0 when idle. */
  imgsPerSec: number;
  /** The last error or wait reason, for the page. */
  note: string;
  share: number;
}

export interface VolunteerRuntimeOptions {
  /** ws(s)://HOST/ws */
  url: string;
  capabilities: Capabilities;
  loadDataset: DatasetProvider;
  /** Called before each connect; the runtime keeps a token until shortly before it expires. */
  getToken: () => Promise<SessionToken>;
  /** Fraction of wall-clock time spent computing, (0, 1]. */
  share?: number;
  /** The most samples run through the nets at once (WorkerSessionOptions.microBatch); absent, batches run whole. */
  microBatch?: number;
  openSocket?: (url: string) => SocketLike;
  /** Seed of the reconnect jitter (a volunteer draws it from crypto.getRandomValues). */
  jitterSeed: number;
  backoff?: BackoffOptions;
  /** How long stop() or pause() waits for the in-flight task, ms. */
  graceMs?: number;
  onStatus?: (s: VolunteerStatus) => void;
  log?: (level: LogLevel, event: string, fields: Record<string, unknown>) => void;
}

/** Watchdog tick; silence is judged at three heartbeats, so this only sets detection latency. */
const TICK_MS = 250;
/** Renew a session token this long before it expires. */
const TOKEN_MARGIN_MS = 30_000;
/** img/s is averaged over this many recent results. */
const RATE_WINDOW = 8;

/**
 * The browser volunteer's connection loop around one WorkerSession (the same
 * protocol logic as the Node worker): a session token before each connect,
 * reconnects with jittered exponential backoff, a heartbeat watchdog, a
 * compute-share throttle between tasks, and pause/resume/stop that finish the
 * in-flight task and say `bye` (a paused volunteer holds no tasks, so the
 * coordinator's rounds never wait on a hidden tab).
 */
export class VolunteerRuntime {
  readonly session: WorkerSession;
  private readonly backoff: Backoff;
  private socket: SocketLike | null = null;
  private token: SessionToken | null = null;
  private state: VolunteerState = 'idle';
  private note = '';
  private share: number;
  private retryFloorMs = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private lastComputeMs = 0;
  private readonly recent: { t: number; samples: number }[] = [];
  private closeWaiters: (() => void)[] = [];

  constructor(private readonly opts: VolunteerRuntimeOptions) {
    this.share = opts.share ?? 1;
    throttleDelayMs(1, this.share); // validates
    this.backoff = new Backoff(new Rng(opts.jitterSeed >>> 0), opts.backoff);
    this.session = new WorkerSession({
      kind: 'volunteer',
      capabilities: opts.capabilities,
      loadDataset: opts.loadDataset,
      microBatch: opts.microBatch,
      beforeTask: () => this.rest(),
      events: {
        log: (level, event, fields) => opts.log?.(level, event, fields),
        welcome: () => {
          this.backoff.reset();
          // A welcome handled after pause() or stop() began must not undo them.
          if (this.state === 'connecting' || this.state === 'reconnecting') this.setState('connected', '');
        },
        counters: (c) => this.onCounters(c),
        wait: (f) => {
          this.note = `waiting: ${f.reason}`;
          if (f.reconnect) this.retryFloorMs = f.retryAfterMs;
          this.emit();
        },
        fatal: (err, info) => {
          if (err.code === ErrorCodes.SESSION_EXPIRED || err.code === ErrorCodes.UNAUTHORIZED) this.token = null;
          this.note = err.message;
          // A fresh session token can cure an expired or refused one once; other permanent codes cannot be cured.
          if (info.permanent && err.code !== ErrorCodes.UNAUTHORIZED) {
            this.halt('failed');
            return;
          }
          this.retryFloorMs = info.retryAfterMs ?? 0;
          this.emit();
        },
      },
    });
  }

  status(): VolunteerStatus {
    return { state: this.state, workerId: this.session.workerId, counters: { ...this.session.counters }, imgsPerSec: this.rate(), note: this.note, share: this.share };
  }

  /** Starts contributing (or resumes after pause). */
  start(): void {
    if (this.state === 'stopped' || this.state === 'failed') throw new Error(`volunteer is ${this.state}`);
    if (this.state !== 'idle' && this.state !== 'paused') return;
    this.watchdog ??= setInterval(() => this.checkSilence(), TICK_MS);
    void this.connect();
  }

  setShare(share: number): void {
    throttleDelayMs(1, share);
    this.share = share;
    this.emit();
  }

  /** Finishes the in-flight task, says bye, and stays away until start(). */
  async pause(reason = 'paused'): Promise<void> {
    if (this.state === 'stopped' || this.state === 'failed' || this.state === 'paused' || this.state === 'idle') return;
    this.setState('paused', reason);
    await this.leave(reason);
  }

  /** Finishes the in-flight task, says bye, closes with 1000 and frees the model. */
  async stop(reason = 'stop'): Promise<void> {
    if (this.state === 'stopped') return;
    this.setState('stopped', reason);
    await this.leave(reason);
    this.session.dispose();
  }

  private async leave(reason: string): Promise<void> {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    const socket = this.socket;
    if (!socket) return;
    await withTimeout(this.session.drain(), this.opts.graceMs ?? 5_000);
    const closed = new Promise<void>((r) => this.closeWaiters.push(r));
    if (this.session.connected) this.session.bye(reason);
    else socket.close(CloseCodes.NORMAL, reason);
    await withTimeout(closed, 2_000);
    // The session stays usable for a later start() (drain's flag is per connection only after a new open).
    this.revive();
  }

  private async connect(): Promise<void> {
    this.reconnectTimer = null;
    if (this.state === 'stopped' || this.state === 'failed') return;
    this.setState(this.backoff.attempts === 0 ? 'connecting' : 'reconnecting', this.note);
    try {
      if (!this.token || this.token.expiresAt - TOKEN_MARGIN_MS < Date.now()) this.token = await this.opts.getToken();
    } catch (e) {
      this.note = `session: ${(e as Error).message}`;
      return this.scheduleReconnect();
    }
    // pause() or stop() may have run while the token was being fetched.
    const now = this.state as VolunteerState;
    if (now === 'paused' || now === 'stopped' || now === 'failed') return;
    this.session.setToken(this.token.token);
    const socket = (this.opts.openSocket ?? defaultOpenSocket)(this.opts.url);
    this.socket = socket;
    socket.binaryType = 'arraybuffer';
    socket.onopen = () =>
      this.session.onOpen({
        send: (bytes, done) => {
          // WebSocket.send copies the bytes (they count in bufferedAmount), so the buffer is free at once.
          if (socket.readyState === OPEN) socket.send(bytes);
          done?.();
        },
        close: (code, reason) => socket.close(code, reason),
      });
    socket.onmessage = (ev) => {
      const d = ev.data;
      // A text frame goes to the decoder as bytes, which refuses it as BAD_FRAME.
      this.session.onMessage(d instanceof ArrayBuffer ? d : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new TextEncoder().encode(String(d)));
    };
    socket.onerror = () => undefined; // onclose follows with the code
    socket.onclose = (ev) => {
      if (this.socket === socket) this.socket = null;
      this.session.onClose();
      this.opts.log?.('info', 'closed', { code: ev.code, reason: ev.reason });
      this.closeWaiters.splice(0).forEach((w) => w());
      if (this.state === 'connected' || this.state === 'connecting' || this.state === 'reconnecting') this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    if (this.state === 'stopped' || this.state === 'failed' || this.state === 'paused') return;
    const delayMs = this.backoff.next(this.retryFloorMs);
    this.retryFloorMs = 0;
    this.setState('reconnecting', this.note || 'connection lost');
    this.opts.log?.('info', 'reconnect', { delayMs, attempt: this.backoff.attempts });
    this.reconnectTimer = setTimeout(() => void this.connect(), delayMs);
  }

  private checkSilence(): void {
    const s = this.socket;
    if (!s || !this.session.connected || this.session.silentMs() <= this.session.deadAfterMs) return;
    this.opts.log?.('warn', 'heartbeat-timeout', { silentMs: Math.round(this.session.silentMs()) });
    s.close(CloseCodes.NORMAL, 'heartbeat timeout');
  }

  /** The compute-share throttle: rest in proportion to the last task's compute time. */
  private async rest(): Promise<void> {
    const ms = throttleDelayMs(this.lastComputeMs, this.share);
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  }

  private onCounters(c: Readonly<WorkerCounters>): void {
    const prev = this.recent.at(-1);
    if (!prev || c.samples !== prev.samples) {
      this.recent.push({ t: Date.now(), samples: c.samples });
      if (this.recent.length > RATE_WINDOW + 1) this.recent.shift();
    }
    this.lastComputeMs = c.tasksDone > 0 ? this.lastTaskMs(c) : 0;
    // Work arrived again: a wait note no longer stands.
    if (this.note.startsWith('waiting')) this.note = '';
    this.emit();
  }

  private lastCompute = { tasks: 0, ms: 0 };
  private lastTaskMs(c: Readonly<WorkerCounters>): number {
    if (c.tasksDone !== this.lastCompute.tasks) {
      const ms = (c.computeMs - this.lastCompute.ms) / (c.tasksDone - this.lastCompute.tasks);
      this.lastCompute = { tasks: c.tasksDone, ms: c.computeMs };
      return ms;
    }
    return this.lastComputeMs;
  }

  private rate(): number {
    if (this.state !== 'connected' || this.recent.length < 2) return 0;
    const a = this.recent[0];
    const b = this.recent[this.recent.length - 1];
    const now = Date.now();
    // Stale when nothing came for a while (paused by the coordinator, or waiting).
    if (now - b.t > 15_000) return 0;
    return Math.round(((b.samples - a.samples) * 1000) / Math.max(1, b.t - a.t));
  }

  private halt(state: 'failed'): void {
    this.setState(state, this.note);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  private revive(): void {
    this.session.undrain();
  }

  private setState(s: VolunteerState, note: string): void {
    this.state = s;
    this.note = note;
    if (s !== 'connected') this.recent.length = 0;
    this.emit();
  }

  private emit(): void {
    this.opts.onStatus?.(this.status());
  }
}

function defaultOpenSocket(url: string): SocketLike {
  const Ctor = (globalThis as unknown as { WebSocket?: new (url: string) => SocketLike }).WebSocket;
  if (!Ctor) throw new Error('no WebSocket in this environment; pass openSocket');
  return new Ctor(url);
}

async function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
