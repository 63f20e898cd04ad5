/**
 * One side of figure 3 in its own process, so its RSS is the server's alone:
 *
 *   node --import tsx tools/bench/ingest-server.ts duel|raw|echo WORKERS WARMUP_S WINDOW_S [--profile]
 *
 * duel: the real coordinator (startCoordinator, sync mode, `mlp` on MNIST, one
 *   shard per worker) fed by WORKERS fake-worker.ts processes.
 * raw:  a bare `ws` server that answers every frame with one small frame, fed
 *   by the same fake-worker.ts processes in raw mode.
 * echo: raw, but each answer is first a frame as large as the one received
 *   (the coordinator broadcasts new weights of that size after each update),
 *   then the small one: the transport floor of the coordinator's pattern.
 *
 * After WARMUP_S it counts the bytes received over WINDOW_S and samples RSS
 * every 100 ms; the last stdout line is a JSON IngestReport. --profile also
 * runs V8's sampling profiler over the window and reports where the time went.
 */
import type { AddressInfo } from 'node:net';
import { startCoordinator, defaultCoordinatorOptions } from '@duel/coordinator';
import { ganSpecFor, resolveRunConfig } from '@duel/trainer';
import { ganLayout } from '@duel/gan';
import { encodeFrame, maxPayloadFor } from '@duel/protocol';
import { totalSize } from '@duel/util';
import { WebSocketServer } from 'ws';
import { cpuSecondsOf, metricSum, sleep, spawnTs, stop } from './common';
import { startProfile, type ProfileSummary } from './profile';

export interface IngestReport {
  mode: Mode;
  workers: number;
  windowS: number;
  /** Bytes received per second over the window, in MB (10^6). */
  mbPerSec: number;
  /** Frames (results) received per second. */
  framesPerSec: number;
  /** duel only: updates applied in the window, and results not applied. */
  updates?: number;
  notApplied?: number;
  rssIdleMB: number;
  rssMeanMB: number;
  rssPeakMB: number;
  /** Parameters of G + D (the model's size). */
  params: number;
  /** CPU seconds per wall second over the window: server, and all clients together. */
  serverCpu: number;
  clientsCpu: number;
  profile?: ProfileSummary;
}

type Mode = 'duel' | 'raw' | 'echo';
const [modeArg, workersArg, warmupArg, windowArg, ...rest] = process.argv.slice(2);
const N = Number(workersArg);
const WARMUP_S = Number(warmupArg);
const WINDOW_S = Number(windowArg);
const PROFILE = rest.includes('--profile');
const mode = modeArg as Mode;
const MB = 1e6;

const run = resolveRunConfig({ dataset: 'mnist', model: 'mlp', steps: 1_000_000, seed: 1 });
const layout = ganLayout(ganSpecFor(run));
const params = totalSize(layout.G) + totalSize(layout.D);
const rss = () => process.memoryUsage().rss / MB;

/** What the window reads at its ends: bytes and frames received so far, and (duel) updates applied. */
interface Counters {
  bytes: number;
  frames: number;
  updates: number;
  notApplied: number;
}

async function startDuel(): Promise<{ url: string; read: () => Promise<Counters>; close: () => Promise<void> }> {
  // The per-connection budgets (256 MiB/s and 1000 frames/s by default, coordinator.options.ts) are a flood guard
  // that one loopback client outruns: it is cut off with RATE_LIMITED (4429) within seconds. This figure measures
  // what the coordinator can take in, so it lifts them; main() fails the run if a client is cut off anyway.
  const unlimited = { burst: 1e15, perSecond: 1e15 };
  const c = await startCoordinator(defaultCoordinatorOptions(run, { port: 0, shards: 'auto', taskTimeoutMs: 60_000, byteRate: unlimited, frameRate: unlimited }));
  // /metrics is the operator's view of ingest, so the bench reads it the same way.
  const read = async (): Promise<Counters> => {
    const text = await (await fetch(`${c.url}/metrics`)).text();
    const results = metricSum(text, 'duel_results_total');
    const applied = metricSum(text, 'duel_results_total', { status: 'applied' });
    return { bytes: metricSum(text, 'duel_bytes_in_total'), frames: results, updates: metricSum(text, 'duel_rounds_total'), notApplied: results - applied };
  };
  return { url: c.wsUrl, read, close: () => c.close() };
}

async function startRaw(echo: boolean): Promise<{ url: string; read: () => Promise<Counters>; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws', perMessageDeflate: false, maxPayload: maxPayloadFor(layout) });
  await new Promise<void>((r) => wss.once('listening', r));
  const reply = encodeFrame({ t: 'ack', taskId: '0.D0.0.0', status: 'applied' });
  const n: Counters = { bytes: 0, frames: 0, updates: 0, notApplied: 0 };
  const big = Buffer.alloc(maxPayloadFor(layout));
  wss.on('connection', (ws) =>
    ws.on('message', (data: Buffer) => {
      n.bytes += data.byteLength;
      n.frames++;
      if (echo) ws.send(big.subarray(0, data.byteLength), { binary: true, compress: false });
      ws.send(reply, { binary: true, compress: false });
    }),
  );
  const port = (wss.address() as AddressInfo).port;
  return { url: `ws://127.0.0.1:${port}/ws`, read: async () => ({ ...n }), close: () => new Promise<void>((r) => wss.close(() => r())) };
}

async function main(): Promise<void> {
  if (!['duel', 'raw', 'echo'].includes(mode)) throw new Error(`ingest-server: mode must be duel, raw or echo, got ${mode}`);
  const server = mode === 'duel' ? await startDuel() : await startRaw(mode === 'echo');
  await sleep(500);
  const rssIdleMB = rss();
  const clients = Array.from({ length: N }, () => spawnTs('fake-worker.ts', mode === 'duel' ? ['duel', server.url] : ['raw', server.url, run.model], { stdio: 'ignore' }));
  for (const p of clients) p.stderr!.setEncoding('utf8').on('data', (s: string) => process.stderr.write(s));
  // A client that exits (its connection closed, e.g. by a refusal) would leave the window measuring fewer senders than N.
  let exited = 0;
  for (const p of clients) p.once('exit', () => exited++);
  // Client start-up (tsx, imports) takes seconds on a busy machine: the warm-up starts once frames flow.
  const deadline = Date.now() + 180_000;
  while ((await server.read()).frames < 3 * N) {
    if (Date.now() > deadline) throw new Error('ingest-server: the clients sent nothing within 180 s');
    await sleep(200);
  }
  await sleep(WARMUP_S * 1000);

  const rssSamples: number[] = [];
  const sampler = setInterval(() => rssSamples.push(rss()), 100);
  const profiler = PROFILE ? await startProfile() : null;
  const a = await server.read();
  const cpu0 = process.cpuUsage();
  const clientCpu0 = clients.reduce((s, p) => s + cpuSecondsOf(p.pid), 0);
  const t0 = performance.now();
  await sleep(WINDOW_S * 1000);
  const b = await server.read();
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const clientCpu = clients.reduce((s, p) => s + cpuSecondsOf(p.pid), 0) - clientCpu0;
  const profile = profiler ? await profiler.stop() : undefined;
  clearInterval(sampler);
  if (exited > 0) throw new Error(`ingest-server: ${exited} of ${N} clients exited before the window ended (see their stderr above)`);

  const report: IngestReport = {
    mode,
    workers: N,
    windowS: secs,
    mbPerSec: (b.bytes - a.bytes) / secs / MB,
    framesPerSec: (b.frames - a.frames) / secs,
    ...(mode === 'duel' ? { updates: b.updates - a.updates, notApplied: b.notApplied - a.notApplied } : {}),
    rssIdleMB,
    rssMeanMB: rssSamples.reduce((s, x) => s + x, 0) / Math.max(1, rssSamples.length),
    rssPeakMB: Math.max(...rssSamples),
    params,
    serverCpu: (cpu.user + cpu.system) / 1e6 / secs,
    clientsCpu: clientCpu / secs,
    ...(profile ? { profile } : {}),
  };
  await Promise.all(clients.map((p) => stop(p, 2000)));
  await server.close();
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(0);
}

void main().catch((e) => {
  process.stderr.write(`ingest-server: ${(e as Error).stack}\n`);
  process.exit(1);
});
