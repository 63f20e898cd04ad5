/**
 * A loopback load generator for figure 3 (not a worker: it computes nothing).
 *
 *   node --import tsx tools/bench/fake-worker.ts duel ws://127.0.0.1:PORT/ws
 *   node --import tsx tools/bench/fake-worker.ts raw  ws://127.0.0.1:PORT/ws MODEL
 *   (raw also serves the echo server, which answers with a large frame and then a small one)
 *
 * duel: hello, then answers every `task` at once with a `result` of zero
 *   gradients in the layout of the task's phase; answers pings; ignores weights.
 * raw:  sends the same result frames (D, G, D, G, … as k = 1 orders them) to a
 *   bare ws server and waits for its one small reply before sending the next:
 *   the same lockstep request/response pattern, with no coordinator behind it.
 *
 * Both encode every result afresh (encodeFrame copies the gradients once), so
 * the client does the same work in both modes and only the server differs.
 */
import { ganLayout, resolveModel, type GanLayout, type GanSpec } from '@duel/gan';
import { decodeFrame, encodeFrame, FLAG_TENSORS, PROTOCOL_VERSION, type Phase, type TaskFrame, type Versions } from '@duel/protocol';
import { zerosLike, type NamedWeights } from '@duel/util';
import WebSocket from 'ws';

const [mode, url, modelName = 'mlp'] = process.argv.slice(2);

function resultFrame(workerId: string, taskId: string, phase: Phase, versions: Versions, grads: NamedWeights, samples: number): Uint8Array {
  return encodeFrame({
    t: 'result',
    taskId,
    workerId,
    phase,
    versions,
    grads,
    stats: { loss: 0.693, dReal: 0.5, dFake: 0.5, samples, computeMs: 0 },
  });
}

function zeros(layout: GanLayout): Record<Phase, NamedWeights> {
  return { D: zerosLike(layout.D), G: zerosLike(layout.G) };
}

function runDuel(ws: WebSocket): void {
  let workerId = '';
  let grads: Record<Phase, NamedWeights> | null = null;
  ws.on('open', () => {
    ws.send(encodeFrame({ t: 'hello', protocol: PROTOCOL_VERSION, kind: 'node', capabilities: { backend: 'none', device: 'bench fake worker', maxBatch: 4096 } }));
  });
  ws.on('message', (data: Buffer) => {
    // Weights frames (the only ones with a tensor section) are not looked at: nothing is computed.
    if (data[3] & FLAG_TENSORS) return;
    const f = decodeFrame(data, { from: 'coordinator' });
    switch (f.t) {
      case 'welcome':
        workerId = f.workerId;
        grads = zeros(ganLayout(f.run.model as unknown as GanSpec));
        return;
      case 'task':
        return answer(f);
      case 'ping':
        ws.send(encodeFrame({ t: 'pong', ts: Date.now(), echo: f.ts }));
        return;
      case 'error':
        process.stderr.write(`fake worker: ${f.code} ${f.message}\n`);
        return;
    }
  });
  const answer = (t: TaskFrame) => {
    const samples = t.phase === 'D' ? 2 * t.batchSize : t.batchSize;
    ws.send(resultFrame(workerId, t.taskId, t.phase, t.versions, grads![t.phase], samples));
  };
}

function runRaw(ws: WebSocket): void {
  const grads = zeros(ganLayout(resolveModel(modelName)));
  let n = 0;
  const next = () => {
    const phase: Phase = n % 2 === 0 ? 'D' : 'G';
    ws.send(resultFrame('w-raw', `${n}.${phase}0.0.0`, phase, { g: n >> 1, d: (n + 1) >> 1 }, grads[phase], 64));
    n++;
  };
  ws.on('open', next);
  // The echo server sends a frame the size of the result first (as the coordinator broadcasts weights); the small one means "go on".
  ws.on('message', (data: Buffer) => {
    if (data.byteLength < 1024) next();
  });
}

const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
ws.on('error', (e) => {
  process.stderr.write(`fake worker: ${e.message}\n`);
  process.exit(1);
});
ws.on('close', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
if (mode === 'duel') runDuel(ws);
else if (mode === 'raw') runRaw(ws);
else throw new Error(`fake-worker: mode must be duel or raw, got ${mode}`);
