import WebSocket from 'ws';
import { decodeFrame, encodeFrame, PROTOCOL_VERSION, type Frame, type HelloFrame } from '@duel/protocol';

/** A scripted worker speaking raw frames, for refusal and fuzz tests. */
export class RawClient {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      try {
        this.frames.push(decodeFrame(new Uint8Array(data)));
      } catch (e) {
        this.frames.push({ t: 'error', code: 'DUEL_ERR_CLIENT_DECODE', message: String(e) } as Frame);
      }
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  static async connect(url: string): Promise<RawClient> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    // Listen before 'open': frames sent right at connection (a refusal) can arrive in the upgrade's TCP chunk.
    const client = new RawClient(ws);
    await new Promise<void>((ok, fail) => {
      ws.once('open', () => ok());
      ws.once('error', fail);
    });
    return client;
  }

  hello(over: Partial<HelloFrame> = {}): void {
    this.send({ t: 'hello', protocol: PROTOCOL_VERSION, kind: 'node', capabilities: { backend: 'cpu', device: 'test', maxBatch: 4096 }, ...over });
  }

  send(f: Frame): void {
    this.ws.send(encodeFrame(f));
  }

  sendRaw(bytes: Uint8Array): void {
    this.ws.send(bytes);
  }

  /** Waits for the first frame matching `pred` (already received or future). */
  async next<T extends Frame>(pred: (f: Frame) => f is T, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.frames.find(pred);
      if (hit) return hit;
      if (this.closed) throw new Error(`closed (${this.closed.code} ${this.closed.reason}) before the expected frame`);
      if (Date.now() > deadline) throw new Error(`timed out; got ${this.frames.map((f) => f.t).join(',')}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  async closedWith(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (!this.closed) throw new Error('connection still open');
    return this.closed;
  }

  close(): void {
    this.ws.close();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

export const is =
  <K extends Frame['t']>(t: K) =>
  (f: Frame): f is Extract<Frame, { t: K }> =>
    f.t === t;
