/**
 * Bare WebSocket round trips, for figure 9: a `ws` server on loopback answers
 * every binary frame with one of the same size, and a client sends the next
 * frame when the answer is in (the lockstep of a worker's result and the next
 * weights). The clients: Node's `ws`, as a `duel worker` uses it, and a
 * Chromium Web Worker's WebSocket, as the volunteer uses it. Nothing of duel
 * is in the path, so the figure can tell its own cost from the transport's.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { WebSocket, WebSocketServer } from 'ws';

export interface RttRow {
  bytes: number;
  /** Median ms per round trip (a frame of `bytes` each way). */
  nodeMs: number;
  browserMs: number;
}

/**
 * `count` lockstep round trips of `bytes`-sized frames on an open socket; the
 * median ms. Runs as it is in Node (on a `ws` socket) and, by its source, in
 * the browser's Web Worker (on a WHATWG WebSocket): both have onmessage and send.
 */
function lockstep(ws: { send(d: Uint8Array): void; onmessage: unknown }, bytes: number, count: number): Promise<number> {
  const frame = new Uint8Array(bytes);
  const times: number[] = [];
  return new Promise((done) => {
    let t0 = performance.now();
    ws.onmessage = () => {
      times.push(performance.now() - t0);
      if (times.length === count) {
        times.sort((a, b) => a - b);
        return done(times[times.length >> 1]);
      }
      t0 = performance.now();
      ws.send(frame);
    };
    ws.send(frame);
  });
}

/** The Web Worker's code: lockstep against `url`, the median posted back. */
const WORKER_SOURCE = `const lockstep = ${lockstep.toString()};
onmessage = async ({ data: { url, bytes, count } }) => {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  await new Promise((r) => (ws.onopen = r));
  postMessage(await lockstep(ws, bytes, count));
  ws.close();
};`;

async function nodeRtt(url: string, bytes: number, count: number): Promise<number> {
  const ws = new WebSocket(url);
  await new Promise((r, fail) => ws.once('open', r).once('error', fail));
  try {
    return await lockstep(ws, bytes, count);
  } finally {
    ws.close();
  }
}

/** Median round-trip ms per frame size, Node `ws` and a Chromium Web Worker, interleaved per size. */
export async function wsRoundTrips(browser: Browser, sizes: readonly number[], count: number): Promise<RttRow[]> {
  const http = createServer((_req, res) => res.setHeader('content-type', 'text/html').end('<!doctype html><title>rtt</title>'));
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (s) => s.on('message', (d: Buffer) => s.send(Buffer.alloc(d.length))));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const base = `127.0.0.1:${(http.address() as AddressInfo).port}`;
  const page = await browser.newPage();
  try {
    await page.goto(`http://${base}/`);
    const rows: RttRow[] = [];
    for (const bytes of sizes) {
      const nodeMs = await nodeRtt(`ws://${base}`, bytes, count);
      const browserMs = await page.evaluate(
        ({ src, url, bytes, count }) =>
          new Promise<number>((resolve, reject) => {
            const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
            w.onmessage = (e: MessageEvent<number>) => {
              w.terminate();
              resolve(e.data);
            };
            w.onerror = (e) => reject(new Error(e.message));
            w.postMessage({ url, bytes, count });
          }),
        { src: WORKER_SOURCE, url: `ws://${base}`, bytes, count },
      );
      rows.push({ bytes, nodeMs, browserMs });
    }
    return rows;
  } finally {
    await page.close();
    wss.close();
    http.close();
  }
}
