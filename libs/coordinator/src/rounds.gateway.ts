import { Inject, Logger } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
} from '@nestjs/websockets';
import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { admitFrame, closeCodeFor, encodeFrame, errorFrameFor, maxPayloadFor, toDuelError, type Frame } from '@duel/protocol';
import { DuelError, ErrorCodes } from '@duel/util';
import { ConnectionGuard } from './connection-guard';
import { CoordinatorService } from './coordinator.service';
import { COORDINATOR_OPTIONS, type CoordinatorOptions } from './coordinator.options';
import { WorkerConnections, type Connection } from './worker-connections';

/** What the adapter's messageParser hands the gateway: a decoded frame or the reason it is not one. */
export type ParsedMessage = { ok: true; frame: Frame; bytes: number } | { ok: false; error: DuelError; bytes: number };

/**
 * A thin gateway: it admits frames per connection (handshake first, sender
 * role), translates them into service calls, and turns every failure into an
 * error frame and, where the code says so, a close. It holds no round logic.
 */
@WebSocketGateway({ path: '/ws', perMessageDeflate: false })
export class RoundsGateway implements OnGatewayConnection, OnGatewayDisconnect, OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('RoundsGateway');
  private readonly maxPayload: number;
  private heartbeat: NodeJS.Timeout | null = null;
  private drain: NodeJS.Timeout | null = null;

  constructor(
    @Inject(CoordinatorService) private readonly svc: CoordinatorService,
    @Inject(WorkerConnections) private readonly conns: WorkerConnections,
    @Inject(COORDINATOR_OPTIONS) private readonly opts: CoordinatorOptions,
    @Inject(ConnectionGuard) private readonly guard: ConnectionGuard,
  ) {
    this.maxPayload = maxPayloadFor(svc.layout);
  }

  /** Heartbeats (ping every heartbeatMs, terminate after 3 silent intervals) and the slow-socket drain check. */
  onModuleInit(): void {
    this.heartbeat = setInterval(() => this.beat(Date.now()), this.opts.heartbeatMs);
    this.heartbeat.unref();
    this.drain = setInterval(() => this.conns.flushDrained(), 250);
    this.drain.unref();
  }

  onModuleDestroy(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.drain) clearInterval(this.drain);
  }

  /**
   * Pings every open connection; one silent for 3 heartbeat intervals (and at
   * least a task timeout, since a worker in a long synchronous kernel cannot
   * answer until it ends) gets HEARTBEAT_TIMEOUT and is terminated.
   */
  beat(now: number): void {
    const ping = encodeFrame({ t: 'ping', ts: now });
    const deadAfter = Math.max(3 * this.opts.heartbeatMs, this.opts.taskTimeoutMs);
    for (const c of this.conns.all()) {
      if (c.phase !== 'open') continue;
      if (now - c.lastSeen > deadAfter) {
        this.fail(c, new DuelError(ErrorCodes.HEARTBEAT_TIMEOUT, `silent for ${now - c.lastSeen} ms`));
        c.ws.terminate();
      } else this.conns.sendTo(c, ping);
    }
  }

  handleConnection(ws: WebSocket, req?: IncomingMessage): void {
    const now = Date.now();
    const c = this.conns.add(ws, req?.socket.remoteAddress ?? 'unknown', now);
    try {
      this.guard.admit(c.remote);
      c.admitted = true;
    } catch (e) {
      return this.fail(c, toDuelError(e));
    }
    c.budget = this.guard.budget(now, this.maxPayload);
    c.handshakeTimer = setTimeout(() => {
      if (c.phase === 'handshake') this.fail(c, new DuelError(ErrorCodes.HANDSHAKE_TIMEOUT, `no hello within ${this.opts.handshakeTimeoutMs} ms`));
    }, this.opts.handshakeTimeoutMs);
    c.handshakeTimer.unref();
  }

  handleDisconnect(ws: WebSocket): void {
    const c = this.conns.remove(ws);
    if (c?.admitted) this.guard.release(c.remote);
    if (c?.workerId) this.svc.workerLeft(c, 'disconnected');
  }

  @SubscribeMessage('frame')
  onFrame(@ConnectedSocket() ws: WebSocket, @MessageBody() msg: ParsedMessage): void {
    const c = this.conns.get(ws);
    if (!c) return;
    this.conns.received(c, msg.bytes);
    if (!msg.ok) return this.fail(c, msg.error);
    try {
      if (!c.budget) throw new DuelError(ErrorCodes.TOO_MANY_CONNECTIONS, 'this connection was refused');
      this.guard.charge(c.budget, msg.bytes, Date.now());
      c.phase = admitFrame(c.phase, msg.frame.t, 'worker');
      this.dispatch(c, msg.frame);
    } catch (e) {
      this.fail(c, toDuelError(e));
    }
  }

  private dispatch(c: Connection, f: Frame): void {
    switch (f.t) {
      case 'hello':
        if (c.handshakeTimer) clearTimeout(c.handshakeTimer);
        c.handshakeTimer = null;
        return this.svc.hello(c, f);
      case 'result':
        return this.svc.result(c, f);
      case 'ping':
        this.conns.sendTo(c, encodeFrame({ t: 'pong', ts: Date.now(), echo: f.ts }));
        return;
      case 'pong':
        return;
      case 'bye':
        this.svc.workerLeft(c, `bye: ${f.reason}`);
        this.conns.close(c, 1000, 'bye');
        return;
      case 'error':
        this.log.warn({ workerId: c.workerId, remote: c.remote, code: f.code }, `worker ${c.workerId ?? c.remote} reported ${f.code}: ${f.message}`);
        return;
      default:
        throw new DuelError(ErrorCodes.BAD_FRAME, `unexpected '${f.t}' from a worker`);
    }
  }

  /** Answers a failure with an error frame, then closes if the code's policy says so. Never throws. */
  private fail(c: Connection, err: DuelError): void {
    const e = toDuelError(err);
    this.svc.countRejection(c, e.code);
    const close = closeCodeFor(e.code);
    try {
      const retryAfterMs = typeof e.details?.retryAfterMs === 'number' ? e.details.retryAfterMs : undefined;
      this.conns.sendTo(c, encodeFrame({ ...errorFrameFor(e, retryAfterMs), fatal: close !== null }));
    } catch (sendErr) {
      this.log.error(`could not send error frame: ${(sendErr as Error).message}`);
    }
    if (close !== null) {
      this.log.warn({ workerId: c.workerId, remote: c.remote, code: e.code }, `closing ${c.workerId ?? c.remote}: ${e.message}`);
      this.conns.close(c, close, e.code);
    }
  }
}
