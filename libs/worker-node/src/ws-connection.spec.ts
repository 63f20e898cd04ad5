import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { maskMode, openConnection, type MaskMode } from './ws-connection';

/** The masking key of each client frame, read off the server's raw TCP bytes (RFC 6455 §5.2), and the payloads ws delivered. */
async function sendThrough(mode: MaskMode, payload: Uint8Array): Promise<{ keys: number[][]; received: Buffer; done: boolean }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws' });
  cleanup.push(() => new Promise((r) => wss.close(() => r(undefined))));
  await new Promise((r) => wss.once('listening', r));
  const keys: number[][] = [];
  const received = new Promise<Buffer>((resolve) => {
    wss.on('connection', (ws, req) => {
      let raw = Buffer.alloc(0);
      req.socket.on('data', (chunk: Buffer) => {
        raw = Buffer.concat([raw, chunk]);
        // One frame of < 126 bytes: 2 header bytes, then the 4-byte key when the mask bit is set.
        if (keys.length === 0 && raw.length >= 6) keys.push((raw[1] & 0x80) !== 0 ? [...raw.subarray(2, 6)] : []);
      });
      ws.on('message', (data) => resolve(data as Buffer));
    });
  });
  let done = false;
  await new Promise<void>((resolve, reject) => {
    const ws = openConnection(
      `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`,
      { open: (t) => t.send(payload, () => ((done = true), resolve())), message: () => undefined, close: () => undefined, error: reject },
      { mask: mode },
    );
    cleanup.push(async () => ws.terminate());
  });
  return { keys, received: await received, done };
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('worker WebSocket', () => {
  const payload = Uint8Array.from({ length: 100 }, (_, i) => (i * 37) & 0xff);

  it('masks with the all-zero key by default: the frame is masked, the bytes arrive intact, and the sender hears when they are written', async () => {
    const { keys, received, done } = await sendThrough('zero', payload);
    expect(keys).toEqual([[0, 0, 0, 0]]);
    expect(Buffer.compare(received, payload)).toBe(0);
    expect(done).toBe(true);
    // ws sent our buffer itself, not a masked copy: it was not modified either.
    expect(payload[1]).toBe(37);
  });

  it('uses random keys with DUEL_WS_MASK=random', async () => {
    const { keys, received } = await sendThrough('random', payload);
    expect(keys[0]).toHaveLength(4);
    expect(keys[0]).not.toEqual([0, 0, 0, 0]); // a random key is all-zero with probability 2^-32
    expect(Buffer.compare(received, payload)).toBe(0);
  });

  it('reads the mode from the environment', () => {
    expect(maskMode({})).toBe('zero');
    expect(maskMode({ DUEL_WS_MASK: 'random' })).toBe('random');
    expect(() => maskMode({ DUEL_WS_MASK: 'off' })).toThrow(expect.objectContaining({ code: 'DUEL_ERR_BAD_ARGUMENT' }));
  });
});
