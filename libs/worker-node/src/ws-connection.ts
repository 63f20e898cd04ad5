import { DEFAULT_LIMITS } from '@duel/protocol';
import { DuelError, ErrorCodes } from '@duel/util';
import type { Transport } from '@duel/worker-core';
import WebSocket, { type RawData } from 'ws';

export interface ConnectionHandlers {
  open(transport: Transport): void;
  message(bytes: Uint8Array): void;
  /** Always called once per connection, also when it never opened. */
  close(code: number, reason: string): void;
  error(err: Error): void;
}

export interface ConnectionOptions {
  /** ws `handshakeTimeout`: the HTTP upgrade must complete within it. */
  handshakeTimeoutMs?: number;
  /** Largest inbound message (ws `maxPayload`); the decoder refuses more anyway. */
  maxPayload?: number;
  /** Client-to-server masking keys: 'zero' (default) or 'random' (`DUEL_WS_MASK=random`); see {@link maskMode}. */
  mask?: MaskMode;
}

export type MaskMode = 'zero' | 'random';

/**
 * RFC 6455 §5.3 has every client frame masked with a key the client picks, so
 * that script in a browser cannot make a client put chosen bytes on the wire
 * of a transparent proxy (§10.3, cache poisoning). A Node worker sends only
 * frames it encoded itself, so by default it uses the all-zero key, which ws
 * supports for this case (`generateMask`; websockets/ws#1990): masking becomes
 * a no-op on both ends, and ws sends our buffer as it is instead of copying
 * each result into a fresh masked one (6 MB per `mlp` G result). Through a
 * proxy you do not trust, set DUEL_WS_MASK=random for random keys.
 * @throws DuelError BAD_ARGUMENT for another value
 */
export function maskMode(env: NodeJS.ProcessEnv = process.env): MaskMode {
  const v = env['DUEL_WS_MASK'];
  if (v === undefined || v === '' || v === 'zero') return 'zero';
  if (v === 'random') return 'random';
  throw new DuelError(ErrorCodes.BAD_ARGUMENT, `DUEL_WS_MASK must be zero or random, got "${v}"`);
}

const zeroMask = (mask: Buffer) => {
  mask.fill(0);
};

/**
 * Opens one WebSocket to the coordinator and adapts it to worker-core's
 * Transport. Binary frames only, and permessage-deflate off: SYSTEM.md measured
 * it at 20–30× the time on float payloads for an 8% saving.
 */
export function openConnection(url: string, h: ConnectionHandlers, opts: ConnectionOptions = {}): WebSocket {
  const ws = new WebSocket(url, {
    perMessageDeflate: false,
    maxPayload: opts.maxPayload ?? DEFAULT_LIMITS.maxFrameBytes,
    handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
    ...((opts.mask ?? 'zero') === 'zero' ? { generateMask: zeroMask } : {}),
  });
  ws.binaryType = 'nodebuffer';
  const transport: Transport = {
    send: (bytes, done) => {
      if (ws.readyState !== WebSocket.OPEN) return done?.();
      // ws calls back once the socket has written the bytes (or failed to).
      ws.send(bytes, { binary: true }, done && (() => done()));
    },
    close: (code, reason) => {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason);
    },
  };
  ws.on('open', () => h.open(transport));
  // A text frame goes to the decoder too, which refuses it as BAD_FRAME (no magic).
  ws.on('message', (data) => h.message(toBytes(data)));
  ws.on('close', (code, reason) => h.close(code, reason.toString()));
  ws.on('error', (err) => h.error(err));
  return ws;
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}
