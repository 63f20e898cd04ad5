/**
 * Figures 3 (ingest) and 6 (memory): the coordinator's gradient ingest against
 * a bare `ws` server taking the same frames from the same clients, runs
 * interleaved (raw, duel, echo, raw, duel, echo, …) so drift in the machine's
 * load hits both sides alike. Each run is one ingest-server.ts process.
 */
import { caption, fmt, log, median, spawnTs, lastJsonLine, table, type Machine, type Section } from './common';
import type { IngestReport } from './ingest-server';
import type { ProfileSummary } from './profile';

/** The issue's target: the coordinator keeps ≥ 80% of what the bare transport moves. */
const TARGET = 0.8;
const MB_PER_PARAM_FLOOR = (4 * 4) / 1e6; // float32 weights + Adam m + Adam v + one gradient buffer

type Mode = IngestReport['mode'];

interface Plan {
  workers: number[];
  modes: Mode[];
  reps: number;
  warmupS: number;
  windowS: number;
}

function plan(quick: boolean): Plan {
  return quick
    ? { workers: [1, 2], modes: ['raw', 'duel'], reps: 1, warmupS: 1, windowS: 3 }
    : { workers: [1, 2], modes: ['raw', 'duel', 'echo'], reps: 3, warmupS: 3, windowS: 6 };
}

function runOnce(mode: Mode, workers: number, p: Plan, profile = false): Promise<IngestReport> {
  const args = [mode, String(workers), String(p.warmupS), String(p.windowS), ...(profile ? ['--profile'] : [])];
  return lastJsonLine<IngestReport>(spawnTs('ingest-server.ts', args), `ingest ${mode} ×${workers}`);
}

export async function ingestFigures(m: Machine, quick: boolean): Promise<Section[]> {
  const p = plan(quick);
  const runs: IngestReport[] = [];
  for (const n of p.workers) {
    for (let rep = 0; rep < p.reps; rep++) {
      for (const mode of p.modes) {
        const r = await runOnce(mode, n, p);
        log(`ingest ${mode} ×${n}: ${fmt(r.mbPerSec)} MB/s, ${fmt(r.framesPerSec)} frames/s, server ${fmt(r.serverCpu, 2)} cores, clients ${fmt(r.clientsCpu, 2)}`);
        runs.push(r);
      }
    }
  }
  // A separate run under V8's sampling profiler, so the profiler's cost is not in the table.
  const prof = await runOnce('duel', 1, p, true);
  log(`profile: ${prof.profile?.stages.map((s) => `${s.stage} ${(100 * s.share).toFixed(0)}%`).join(', ')}`);
  return [ingestSection(m, p, runs, prof, quick), memorySection(m, runs.filter((r) => r.mode === 'duel'))];
}

const pick = (runs: IngestReport[], mode: Mode, n: number) => runs.filter((r) => r.mode === mode && r.workers === n);

function ingestSection(m: Machine, p: Plan, runs: IngestReport[], prof: IngestReport, quick: boolean): Section {
  const rows: (string | number)[][] = [];
  const verdicts: string[] = [];
  for (const n of p.workers) {
    const raw = pick(runs, 'raw', n);
    const duel = pick(runs, 'duel', n);
    // Pairs from the same repetition were measured back to back.
    const ratios = duel.map((d, i) => d.mbPerSec / raw[i].mbPerSec);
    const ratio = median(ratios);
    for (const mode of p.modes) {
      const rs = pick(runs, mode, n);
      const mbs = rs.map((r) => r.mbPerSec);
      rows.push([
        n,
        mode === 'duel' ? 'coordinator' : mode === 'raw' ? 'bare ws, small reply' : 'bare ws, same-size reply + small',
        fmt(median(mbs)),
        fmt(median(rs.map((r) => r.framesPerSec)), 2),
        fmt(median(rs.map((r) => r.serverCpu)), 2),
        fmt(median(rs.map((r) => r.clientsCpu)), 2),
        mode === 'duel' ? `**${fmt(ratio, 2)}**${ratios.length > 1 ? ` (${ratios.map((x) => fmt(x, 2)).join(', ')})` : ''}` : mode === 'raw' ? '1' : fmt(median(rs.map((r, i) => r.mbPerSec / raw[i].mbPerSec)), 2),
      ]);
    }
    verdicts.push(`${n} worker${n > 1 ? 's' : ''}: ${fmt(ratio, 2)} (${ratio >= TARGET ? 'met' : 'not met'})`);
  }
  const notApplied = pick(runs, 'duel', 1).concat(pick(runs, 'duel', 2)).reduce((s, r) => s + (r.notApplied ?? 0), 0);
  const markdown = [
    'Gradient results of the `mlp` model (D 0.53M, G 1.49M parameters: about 2.1 and 6.0 MB per result, D and G',
    'alternating as k = 1 orders them) sent over loopback by N child processes (tools/bench/fake-worker.ts) that',
    'compute nothing: each answers a task at once with zero gradients of the right layout, encoded afresh.',
    '',
    '- **coordinator**: the real one (`startCoordinator`, sync, one shard per worker); every result is decoded,',
    '  validated, aggregated (mean), Adam steps the net, and the new weights are broadcast. MB/s is the',
    '  growth of `duel_bytes_in_total` on /metrics over the window. Its per-connection flood guard (by default 256 MiB/s',
    '  and 1000 frames/s, `byteRate` / `frameRate`) is lifted here: one loopback client outruns it within seconds and is',
    '  cut off with `DUEL_ERR_RATE_LIMITED` (close 4429). A run in which any client exits before the window ends fails.',
    '- **bare ws, small reply**: a `ws` server that answers every frame with one small frame, the same',
    '  lockstep request/response; the same client script sends the same frames.',
    ...(p.modes.includes('echo')
      ? ['- **bare ws, same-size reply**: as above, but each answer is first a frame as large as the one received, as the', '  coordinator\'s weights broadcast is: the transport floor of the coordinator\'s pattern.']
      : []),
    '',
    `Window ${p.windowS} s after a ${p.warmupS} s warm-up (counted from the first frames); ${p.reps} interleaved repetition${p.reps > 1 ? 's' : ''} per row,`,
    `medians shown; the ratio column is coordinator ÷ bare ws of the same repetition. CPU columns are cores busy (CPU s per wall s).${quick ? ' **--quick: short windows, one repetition.**' : ''}`,
    '',
    table(['workers', 'server', 'MB/s received', 'results/s', 'server CPU', 'clients CPU', 'ratio to bare ws'], rows),
    '',
    `Target ≥ ${TARGET}: ${verdicts.join('; ')}.${notApplied ? ` ${notApplied} results were not applied (duplicates/rejects).` : ' Every result was applied.'}`,
    '',
    profileText(prof.profile),
    '',
    caption(m),
  ].join('\n');
  return { title: '3. (a) Gradient ingest: coordinator vs bare ws', markdown, summary: `ingest ratio: ${verdicts.join('; ')}` };
}

function bufferutil(): boolean {
  try {
    require.resolve('bufferutil');
    return true;
  } catch {
    return false;
  }
}

function profileText(p: ProfileSummary | undefined): string {
  if (!p) return '';
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  return [
    `**Where the coordinator's time goes** (1 worker, a separate run under V8's sampling profiler; main thread busy ${pct(p.busy)} of the window):`,
    '',
    table(['stage', 'share of busy time'], p.stages.filter((s) => s.share >= 0.005).map((s) => [s.stage, pct(s.share)])),
    '',
    `Hottest functions: ${p.top.map((t) => `\`${t.fn}\` ${pct(t.share)}`).join(', ')}.`,
    `${bufferutil() ? 'ws unmasks client frames with the native `bufferutil` addon.' : "`_unmask` is ws's JavaScript fallback: the optional native `bufferutil` addon is not installed (it would speed both servers alike)."}`,
    'On a loaded machine the profiler also counts time the thread was runnable but descheduled, so read the shares, not the totals.',
  ].join('\n');
}

function memorySection(m: Machine, duel: IngestReport[]): Section {
  const params = duel[0]?.params ?? Number.NaN;
  const floor = params * MB_PER_PARAM_FLOOR;
  const ns = [...new Set(duel.map((r) => r.workers))];
  const rows = ns.map((n) => {
    const rs = duel.filter((r) => r.workers === n);
    const peak = Math.max(...rs.map((r) => r.rssPeakMB));
    const idle = median(rs.map((r) => r.rssIdleMB));
    return [n, fmt(idle, 0), fmt(median(rs.map((r) => r.rssMeanMB)), 0), fmt(peak, 0), fmt(peak - idle, 0), fmt(floor, 0), fmt(peak / floor, 1)];
  });
  const markdown = [
    `Resident set size of the coordinator process (RSS, MB = 10^6 bytes) in the ingest runs of figure 3: idle after start-up`,
    'but before any worker joined, then sampled every 100 ms over the load window. The floor is what the state',
    `must hold: 4 bytes × ${params.toLocaleString('en-US')} parameters (G + D of \`mlp\`) × 4 (weights, Adam m and v, one gradient buffer).`,
    'Idle RSS also holds Node, NestJS, tfjs-core (for /api/samples) and the code; peak − idle is what the ingest load',
    'adds on top (received frames, decoded gradients, the aggregate, encoded weights broadcasts; one G result is about 6 MB).',
    '',
    table(['workers', 'RSS idle', 'RSS under load (mean)', 'RSS peak', 'peak − idle', 'floor', 'peak ÷ floor'], rows),
    '',
    caption(m),
  ].join('\n');
  const last = rows.at(-1);
  return { title: '6. Memory: coordinator RSS under ingest load', markdown, summary: `memory: peak RSS ${last?.[3]} MB vs floor ${fmt(floor, 0)} MB` };
}
