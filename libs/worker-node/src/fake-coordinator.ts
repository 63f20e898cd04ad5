import type { AddressInfo } from 'node:net';
import { decodeFrame, encodeFrame, type CoordinatorFrame, type WorkerFrame } from '@duel/protocol';
import { WebSocketServer, type WebSocket } from 'ws';

/** A frame a fake coordinator received, with the index of the connection it came on. */
export interface Received {
  conn: number;
  frame: WorkerFrame;
}

/** What the script answers to each worker frame: the frames to send back. */
export type Script = (frame: WorkerFrame, conn: number) => CoordinatorFrame[];

/**
 * Test-only: a scripted coordinator on a real `ws` server speaking the real
 * codec, for end-to-end specs of the worker runtime. Not a coordinator.
 */
export class FakeCoordinator {
  readonly received: Received[] = [];
  readonly closes: { conn: number; code: number }[] = [];
  private readonly sockets = new Set<WebSocket>();
  private conns = 0;

  private constructor(
    private readonly wss: WebSocketServer,
    private readonly script: Script,
  ) {
    wss.on('connection', (ws) => {
      const conn = this.conns++;
      this.sockets.add(ws);
      ws.on('message', (data) => {
        const frame = decodeFrame(data as Buffer, { from: 'worker' }) as WorkerFrame;
        this.received.push({ conn, frame });
        for (const out of this.script(frame, conn)) ws.send(encodeFrame(out));
      });
      ws.on('close', (code) => {
        this.sockets.delete(ws);
        this.closes.push({ conn, code });
      });
    });
  }

  static async start(script: Script, port = 0): Promise<FakeCoordinator> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/ws', perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    return new FakeCoordinator(wss, script);
  }

  get port(): number {
    return (this.wss.address() as AddressInfo).port;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** Frames of type `t`, in arrival order. */
  of<T extends WorkerFrame['t']>(t: T): (Received & { frame: Extract<WorkerFrame, { t: T }> })[] {
    return this.received.filter((r): r is Received & { frame: Extract<WorkerFrame, { t: T }> } => r.frame.t === t);
  }

  send(frame: CoordinatorFrame): void {
    for (const ws of this.sockets) ws.send(encodeFrame(frame));
  }

  /** Dies like a crashed process: sockets reset, no close frames. */
  async kill(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
