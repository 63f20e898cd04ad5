import { Inject, Injectable } from '@nestjs/common';
import type { WebSocket } from 'ws';
import type { SessionPhase, WorkerKind } from '@duel/protocol';
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
}

/**
 * Above this many queued bytes a socket is considered slow: weights broadcasts
 * skip it (it is re-sent the latest weights when it drains) instead of
 * buffering without bound.
 */
export const SLOW_SOCKET_BYTES = 64 * 1024 * 1024;

/**
 * The side-effect "repository" for sockets (Immich style): the service decides
 * what to send to which worker id; this class knows how.
 */
@Injectable()
export class WorkerConnections {
  private readonly bySocket = new Map<WebSocket, Connection>();
  private readonly byWorker = new Map<string, Connection>();

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
    c.ws.send(bytes, { binary: true, compress: false });
    c.bytesOut += bytes.byteLength;
    this.metrics.bytesOut.inc(bytes.byteLength);
    return true;
  }

  /** Sends the same buffer to every bound worker; returns the ids skipped as slow. */
  broadcast(bytes: Uint8Array): string[] {
    const skipped: string[] = [];
    for (const [id, c] of this.byWorker) {
      if (c.ws.bufferedAmount > SLOW_SOCKET_BYTES) skipped.push(id);
      else this.sendTo(c, bytes);
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
