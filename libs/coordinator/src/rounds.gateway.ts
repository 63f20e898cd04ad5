import { Inject, Logger } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
} from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { admitFrame, closeCodeFor, encodeFrame, errorFrameFor, toDuelError, type Frame } from '@duel/protocol';
import { DuelError, ErrorCodes } from '@duel/util';
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
export class RoundsGateway implements OnGatewayConnection, OnGatewayDisconnect {
  private readonly log = new Logger('RoundsGateway');

  constructor(
    @Inject(CoordinatorService) private readonly svc: CoordinatorService,
    @Inject(WorkerConnections) private readonly conns: WorkerConnections,
    @Inject(COORDINATOR_OPTIONS) private readonly opts: CoordinatorOptions,
  ) {}

  handleConnection(ws: WebSocket, req?: IncomingMessage): void {
    const c = this.conns.add(ws, req?.socket.remoteAddress ?? 'unknown', Date.now());
    c.handshakeTimer = setTimeout(() => {
      if (c.phase === 'handshake') this.fail(c, new DuelError(ErrorCodes.HANDSHAKE_TIMEOUT, `no hello within ${this.opts.handshakeTimeoutMs} ms`));
    }, this.opts.handshakeTimeoutMs);
    c.handshakeTimer.unref();
  }

  handleDisconnect(ws: WebSocket): void {
    const c = this.conns.remove(ws);
    if (c?.workerId) this.svc.workerLeft(c, 'disconnected');
  }

  @SubscribeMessage('frame')
  onFrame(@ConnectedSocket() ws: WebSocket, @MessageBody() msg: ParsedMessage): void {
    const c = this.conns.get(ws);
    if (!c) return;
    this.conns.received(c, msg.bytes);
    if (!msg.ok) return this.fail(c, msg.error);
    try {
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
        this.log.warn(`worker ${c.workerId ?? c.remote} reported ${f.code}: ${f.message}`);
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
      this.conns.sendTo(c, encodeFrame({ ...errorFrameFor(e), fatal: close !== null }));
    } catch (sendErr) {
      this.log.error(`could not send error frame: ${(sendErr as Error).message}`);
    }
    if (close !== null) {
      this.log.warn(`closing ${c.workerId ?? c.remote}: ${e.message}`);
      this.conns.close(c, close, e.code);
    }
  }
}
