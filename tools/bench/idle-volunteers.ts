/**
 * Opens N idle volunteer connections to a coordinator (for the load figure):
 * each gets a session from POST /api/volunteer/session, says hello as kind
 * 'volunteer', answers pings, and otherwise only reads. Prints one JSON line
 * when all are welcomed, then holds them until SIGTERM.
 *
 *   tsx tools/bench/idle-volunteers.ts http://127.0.0.1:PORT N
 */
import WebSocket from 'ws';
import { decodeFrame, encodeFrame, PROTOCOL_VERSION } from '@duel/protocol';

async function main(): Promise<void> {
  const [base, nArg] = process.argv.slice(2);
  const n = Number(nArg);
  const wsUrl = `${base.replace(/^http/, 'ws')}/ws`;
  const sockets: WebSocket[] = [];
  let welcomed = 0;
  let closed = 0;
  const t0 = performance.now();
  const all = new Promise<void>((done) => {
    const one = async () => {
      const res = await fetch(`${base}/api/volunteer/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      if (res.status !== 201) throw new Error(`session refused: ${res.status} ${await res.text()}`);
      const { token } = (await res.json()) as { token: string };
      const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
      sockets.push(ws);
      ws.on('open', () =>
        ws.send(encodeFrame({ t: 'hello', protocol: PROTOCOL_VERSION, kind: 'volunteer', token, capabilities: { backend: 'idle', device: 'load test', maxBatch: 1 } })),
      );
      ws.on('message', (data: Buffer) => {
        // Weights frames carry tensors (flag bit 0): skip decoding them, as an idle client would not use them.
        if (data[3] & 1) return;
        const f = decodeFrame(new Uint8Array(data));
        if (f.t === 'welcome' && ++welcomed === n) done();
        else if (f.t === 'ping') ws.send(encodeFrame({ t: 'pong', ts: Date.now(), echo: f.ts }));
      });
      ws.on('close', () => closed++);
      ws.on('error', () => undefined);
    };
    // A few at a time, as browsers arriving would.
    let started = 0;
    const next = (): void => {
      if (started >= n) return;
      started++;
      void one().then(next, (e) => {
        process.stderr.write(`${String(e)}\n`);
        next();
      });
    };
    for (let i = 0; i < 16; i++) next();
  });
  await all;
  process.stdout.write(`${JSON.stringify({ welcomed, seconds: (performance.now() - t0) / 1000 })}\n`);
  const report = setInterval(() => process.stderr.write(`[idle] open ${sockets.length - closed}\n`), 5000);
  process.once('SIGTERM', () => {
    clearInterval(report);
    for (const s of sockets) s.terminate();
    process.exit(0);
  });
}

void main();
