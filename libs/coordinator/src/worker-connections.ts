import { Inject, Injectable } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { BufferLeases, type SessionPhase, type WorkerKind } from '@duel/protocol';
import type { ConnectionBudget } from './connection-guard';
import { MetricsService } from './metrics.service';

/** One socket's bookkeeping. Only the gateway and this repository touch sockets. */
export interface Connection {
  ws: WebSocket;
  remote: string;
  phase: SessionPhase;
  workerId: string | null;
  kind: WorkerKind | null;
  backend: string;
  device: string;
  connectedAt: number;
  lastSeen: number;
  handshakeTimer: NodeJS.Timeout | null;
  bytesIn: number;
  bytesOut: number;
  /** Frame-rate and byte budgets (ConnectionGuard); absent for connections refused at the cap. */
  budget?: ConnectionBudget;
  /** Counted against the connection caps (released on disconnect). */
  admitted?: boolean;
  /** The latest broadcast per key (net) this socket skipped while slow or parked; sent when it drains or before its next frame. */
  pending?: Map<string, Uint8Array>;
  /**
   * No task for it (new, or told to wait): weights for it are only kept in
   * `pending` and go out right before its next task, so idle workers (say 500
   * waiting volunteers) cost no broadcast bandwidth.
   */
  parked?: boolean;
}

/**
 * Above this many queued bytes a socket is considered slow: weights broadcasts
 * skip it (it is re-sent the latest weights when it drains) instead of
 * buffering without bound.
 */
export const SLOW_SOCKET_BYTES = 64 * 1024 * 1024;

/** A socket this far behind is terminated (a slow consumer), so one client cannot grow the coordinator's memory without bound. */
export const MAX_BUFFERED_BYTES = 4 * SLOW_SOCKET_BYTES;

/**
 * The side-effect "repository" for sockets (Immich style): the service decides
 * what to send to which worker id; this class knows how.
 */
@Injectable()
export class WorkerConnections {
  private readonly bySocket = new Map<WebSocket, Connection>();
  private readonly byWorker = new Map<string, Connection>();
  /** Which sent buffers sockets still read (the weights cache reuses the others). */
  readonly leases = new BufferLeases();

  constructor(@Inject(MetricsService) private readonly metrics: MetricsService) {}

  /** Counts inbound bytes for a connection (the gateway calls this per frame). */
  received(c: Connection, bytes: number): void {
    c.bytesIn += bytes;
    c.lastSeen = Date.now();
    this.metrics.bytesIn.inc(bytes);
  }

  add(ws: WebSocket, remote: string, now: number): Connection {
    const c: Connection = {
      ws,
      remote,
      phase: 'handshake',
      workerId: null,
      kind: null,
      backend: '',
      device: '',
      connectedAt: now,
      lastSeen: now,
      handshakeTimer: null,
      bytesIn: 0,
      bytesOut: 0,
    };
    this.bySocket.set(ws, c);
    return c;
  }

  get(ws: WebSocket): Connection | undefined {
    return this.bySocket.get(ws);
  }

  byId(workerId: string): Connection | undefined {
    return this.byWorker.get(workerId);
  }

  /** Binds a worker id to a socket; a previous socket of the same worker (a reconnect) is returned so it can be closed. */
  bind(c: Connection, workerId: string): Connection | undefined {
    const previous = this.byWorker.get(workerId);
    c.workerId = workerId;
    c.parked = true;
    this.byWorker.set(workerId, c);
    return previous !== c ? previous : undefined;
  }

  remove(ws: WebSocket): Connection | undefined {
    const c = this.bySocket.get(ws);
    if (!c) return undefined;
    this.bySocket.delete(ws);
    if (c.handshakeTimer) clearTimeout(c.handshakeTimer);
    if (c.workerId && this.byWorker.get(c.workerId) === c) this.byWorker.delete(c.workerId);
    return c;
  }

  send(workerId: string, bytes: Uint8Array): boolean {
    const c = this.byWorker.get(workerId);
    return c ? this.sendTo(c, bytes) : false;
  }

  sendTo(c: Connection, bytes: Uint8Array): boolean {
    if (c.ws.readyState !== c.ws.OPEN) return false;
    if (c.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.slowConsumers++;
      c.ws.terminate();
      return false;
    }
    // Weights it skipped go first, so a task never overtakes the weights it names.
    if (c.pending?.size && !c.parked) this.flush(c);
    this.write(c, bytes);
    return true;
  }

  /** Sockets terminated for falling more than MAX_BUFFERED_BYTES behind. */
  slowConsumers = 0;

  /** Sends skipped broadcasts to unparked sockets that have drained below SLOW_SOCKET_BYTES / 2 (call periodically). */
  flushDrained(): void {
    for (const c of this.byWorker.values()) if (!c.parked && c.pending?.size && c.ws.bufferedAmount < SLOW_SOCKET_BYTES / 2) this.flush(c);
  }

  /** The worker waits for work: hold its weights until its next task (see Connection.parked). */
  park(workerId: string): void {
    const c = this.byWorker.get(workerId);
    if (c) c.parked = true;
  }

  /** The worker gets a task: held weights go out before the next frame sent to it. */
  unpark(workerId: string): void {
    const c = this.byWorker.get(workerId);
    if (c) c.parked = false;
  }

  /** Weights for one worker: sent now, or held (latest per key) while it is parked. */
  sendWeights(workerId: string, bytes: Uint8Array, key: string): boolean {
    const c = this.byWorker.get(workerId);
    if (!c) return false;
    if (c.parked) {
      this.hold(c, key, bytes);
      return true;
    }
    return this.sendTo(c, bytes);
  }

  /** Keeps `bytes` as the latest of `key` for a parked or slow socket; kept for later, the buffer is never reused. */
  private hold(c: Connection, key: string, bytes: Uint8Array): void {
    this.leases.pin(bytes);
    (c.pending ??= new Map()).set(key, bytes);
  }

  private flush(c: Connection): void {
    const pending = [...c.pending!.values()];
    c.pending!.clear();
    for (const b of pending) this.write(c, b);
  }

  private write(c: Connection, bytes: Uint8Array): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    // ws calls back once the socket has written the bytes, or with an error if it closed first.
    c.ws.send(bytes, { binary: true, compress: false }, this.leases.lease(bytes));
    c.bytesOut += bytes.byteLength;
    this.metrics.bytesOut.inc(bytes.byteLength);
  }

  /**
   * Sends the same buffer to every bound worker, except slow ones (more than
   * SLOW_SOCKET_BYTES queued): those keep only the latest buffer per `key` and
   * get it when they drain or before their next frame. Returns the ids skipped.
   */
  broadcast(bytes: Uint8Array, key = 'broadcast'): string[] {
    const skipped: string[] = [];
    for (const [id, c] of this.byWorker) {
      if (c.parked) this.hold(c, key, bytes);
      else if (c.ws.bufferedAmount > SLOW_SOCKET_BYTES) {
        skipped.push(id);
        this.hold(c, key, bytes);
      } else this.sendTo(c, bytes);
    }
    return skipped;
  }

  workers(): Connection[] {
    return [...this.byWorker.values()];
  }

  all(): Connection[] {
    return [...this.bySocket.values()];
  }

  close(c: Connection, code: number, reason: string): void {
    try {
      c.ws.close(code, reason.slice(0, 120));
    } catch {
      c.ws.terminate();
    }
  }
}
