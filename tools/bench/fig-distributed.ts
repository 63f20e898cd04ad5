/**
 * Figures 4 (overhead) and 5 (scaling): distributed step rate against the
 * local reference trainer, and throughput with 1, 2 and 4 workers.
 *
 * Start-up is excluded on both sides. `duel train`'s JSON `seconds` runs from
 * the coordinator's start, so it includes spawning the workers (tsx, the tfjs
 * import, wasm compilation): seconds on this machine. So the coordinator runs
 * in this process, real `duel worker` processes join it, and the clock runs
 * from the first completed step to the last (G-updates, read off the service's
 * recorder). The local side runs LocalTrainer in this process, timed the same
 * way: from the end of step 1 to the end of the last step.
 */
import { startCoordinator, defaultCoordinatorOptions } from '@duel/coordinator';
import { LocalTrainer, resolveRunConfig, type RunConfig } from '@duel/trainer';
import { selectNodeBackend } from '@duel/gan-node';
import { loadDataset } from '@duel/datasets-node';
import { loadavg } from 'node:os';
import { caption, cpuSecondsOf, fmt, log, median, spawnDuel, stop, table, type Machine, type Section } from './common';

const BACKEND = 'wasm';
/** Samples a step pushes through the nets with k = 1: 2B in the D-update (real + fake), B in the G-update. */
const samplesPerStep = (cfg: RunConfig) => (2 * cfg.k + 1) * cfg.batchSize;

interface Timed {
  /** Steps per second from the end of the first timed step to the end of the last. */
  stepsPerSec: number;
  steps: number;
  /** Cores busy over the timed window (CPU s per wall s): this process, and the workers. */
  mainCpu: number;
  workersCpu: number;
  /** Median of the workers' own compute time per task (result.stats.computeMs), D and G; NaN for local. */
  taskMs: number;
}

function config(steps: number): RunConfig {
  return resolveRunConfig({ dataset: 'ring8', model: 'mlp2d', batchSize: 256, steps, seed: 1 });
}

/** Timed after `warmup` untimed steps. */
async function timeLocal(cfg: RunConfig, warmup = 1): Promise<Timed> {
  await selectNodeBackend(BACKEND);
  const trainer = new LocalTrainer(cfg, await loadDataset(cfg.dataset));
  for (let i = 0; i < warmup; i++) await trainer.step();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  while (!trainer.done) await trainer.step();
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  trainer.dispose();
  const steps = cfg.steps - warmup;
  return { stepsPerSec: steps / secs, steps, mainCpu: (cpu.user + cpu.system) / 1e6 / secs, workersCpu: 0, taskMs: Number.NaN };
}

/**
 * An in-process coordinator (sync, `workers` fixed shards, as `duel train` runs)
 * and `workers` real `duel worker` processes. Timing starts `warmup` steps
 * after every worker joined.
 */
async function timeDistributed(cfg: RunConfig, workers: number, warmup = 1): Promise<Timed> {
  const c = await startCoordinator(defaultCoordinatorOptions(cfg, { port: 0, shards: workers }));
  const svc = c.service;
  const procs = Array.from({ length: workers }, () => spawnDuel(['worker', '--coordinator', c.wsUrl, '--backend', BACKEND]));
  const tails = procs.map(() => [] as string[]);
  procs.forEach((p, i) => p.stderr!.setEncoding('utf8').on('data', (s: string) => tails[i].push(...s.split('\n').slice(-5))));
  const cpuNow = () => {
    const u = process.cpuUsage();
    return { cpu: (u.user + u.system) / 1e6, wcpu: procs.reduce((s, p) => s + cpuSecondsOf(p.pid), 0) };
  };
  // The window's two ends: `warmup` steps after the step at which every worker had joined, and the run's last step.
  // Only they read the clock and the CPU counters (a syscall and a /proc read per worker), as the local side's loop
  // reads nothing between its two ends, so the bench's own probes stay off the coordinator's critical path.
  let joinedAt = -1;
  let a: { step: number; t: number; cpu: number; wcpu: number } | undefined;
  let b: typeof a;
  const rec = svc.recorder;
  const record = rec.step.bind(rec);
  let last = 0;
  // The recorder hears of every applied update; a new step number means a G-update completed a step.
  rec.step = (step: number) => {
    if (step !== last) {
      last = step;
      if (joinedAt < 0 && svc.workerStats().filter((w) => w.connected).length === workers) joinedAt = step;
      if (joinedAt >= 0 && (step === joinedAt + warmup || step === cfg.steps)) {
        const end = { step, t: performance.now(), ...cpuNow() };
        if (a === undefined) a = end;
        else b = end;
      }
    }
    record(step);
  };
  // Each result carries the worker's compute time: with it the table can split a step into compute and the rest.
  const tasks: { t: number; ms: number }[] = [];
  const onResult = svc.result.bind(svc);
  svc.result = (...args: Parameters<typeof onResult>) => {
    tasks.push({ t: performance.now(), ms: args[1].stats.computeMs });
    onResult(...args);
  };
  const died = new Promise<never>((_, fail) =>
    procs.forEach((p, i) => p.once('exit', (code) => fail(new Error(`duel worker exited (${code}) before the run ended:\n${tails[i].slice(-10).join('\n')}`)))),
  );
  try {
    await Promise.race([svc.whenDone(), died]);
  } finally {
    died.catch(() => undefined);
    await Promise.all(procs.map((p) => stop(p)));
    await c.close();
  }
  if (!a || !b || b.step - a.step < 5) throw new Error(`too few steps with all ${workers} workers joined (joined at step ${joinedAt}, of ${cfg.steps})`);
  const secs = (b.t - a.t) / 1000;
  const from = a.t;
  const taskMs = median(tasks.filter((x) => x.t > from).map((x) => x.ms));
  return { stepsPerSec: (b.step - a.step) / secs, steps: b.step - a.step, mainCpu: (b.cpu - a.cpu) / secs, workersCpu: (b.wcpu - a.wcpu) / secs, taskMs };
}

/** One row of figure 4: a model, its dataset and batch, and how many steps each side is timed over (full / --quick). */
interface OverheadCase {
  model: 'mlp2d' | 'mlp' | 'dcgan';
  dataset: string;
  batch: number;
  steps: [number, number];
  /** Untimed steps first, on both sides (full / --quick). */
  warmup: [number, number];
  /** Interleaved repetitions in a full run (1 with --quick). */
  reps: number;
}
/**
 * The three models, smallest first. mlp2d's step is ~10 ms of compute, so a
 * round trip is a large share of it; mlp and dcgan are the MNIST models, whose
 * frames are MBs but whose compute is 7× and 60× longer. mlp2d has the most
 * repetitions: its runs are short, and on this shared VM a worker process's
 * compute alone varies by up to 40% from one run to the next (5.7 to 8.2 ms a
 * task, same code, 2026-12-06), which a median of two cannot absorb.
 */
const OVERHEAD_CASES: OverheadCase[] = [
  { model: 'mlp2d', dataset: 'ring8', batch: 256, steps: [1200, 60], warmup: [200, 5], reps: 5 },
  { model: 'mlp', dataset: 'mnist', batch: 64, steps: [120, 20], warmup: [20, 2], reps: 3 },
  { model: 'dcgan', dataset: 'mnist', batch: 64, steps: [30, 10], warmup: [5, 1], reps: 3 },
];

interface OverheadRow {
  c: OverheadCase;
  cfg: RunConfig;
  local: Timed[];
  dist: Timed[];
  ratios: number[];
  /** Median of `ratios`. */
  ratio: number;
}

async function overheadRow(c: OverheadCase, quick: boolean): Promise<OverheadRow> {
  const reps = quick ? 1 : c.reps;
  const cfg = resolveRunConfig({ dataset: c.dataset, model: c.model, batchSize: c.batch, steps: c.steps[quick ? 1 : 0], seed: 1 });
  const local: Timed[] = [];
  const dist: Timed[] = [];
  // Interleaved (local, distributed, local, distributed) so load drift hits both.
  for (let r = 0; r < reps; r++) {
    const warmup = c.warmup[quick ? 1 : 0];
    local.push(await timeLocal(cfg, warmup));
    log(`overhead ${c.model}: local ${fmt(local.at(-1)!.stepsPerSec, 2)} steps/s`);
    dist.push(await timeDistributed(cfg, 1, warmup));
    log(`overhead ${c.model}: 1 worker ${fmt(dist.at(-1)!.stepsPerSec, 2)} steps/s`);
  }
  const ratios = dist.map((d, i) => d.stepsPerSec / local[i].stepsPerSec);
  return { c, cfg, local, dist, ratios, ratio: median(ratios) };
}

export async function overheadFigure(m: Machine, quick: boolean): Promise<Section> {
  const rows: OverheadRow[] = [];
  for (const c of OVERHEAD_CASES) rows.push(await overheadRow(c, quick));
  const cells = (name: string, cfg: RunConfig, ts: Timed[], r: string) => {
    const sps = median(ts.map((t) => t.stepsPerSec));
    return [
      name,
      fmt(sps, 2),
      fmt(1000 / sps, 1),
      fmt(sps * samplesPerStep(cfg), 0),
      ts[0].steps,
      fmt(median(ts.map((t) => t.mainCpu + t.workersCpu)), 2),
      Number.isFinite(ts[0].taskMs) ? fmt(median(ts.map((t) => t.taskMs)), 1) : '—',
      r,
    ];
  };
  const tableRows = rows.flatMap(({ c, cfg, local, dist, ratios, ratio }) => {
    const what = `\`${c.model}\` (${c.dataset}, batch ${c.batch})`;
    return [
      cells(`${what}: local`, cfg, local, '1'),
      cells(`${what}: distributed, 1 worker`, cfg, dist, `**${fmt(ratio, 2)}**${ratios.length > 1 ? ` (${ratios.map((x) => fmt(x, 2)).join(', ')})` : ''}`),
    ];
  });
  const verdicts = rows.map(({ c, ratio }) => `${c.model} ${fmt(ratio, 2)} (${ratio >= 0.9 ? 'met' : 'not met'})`);
  const split = rows.map(({ c, local, dist }) => {
    const stepMs = 1000 / median(dist.map((t) => t.stepsPerSec));
    const computeMs = 2 * median(dist.map((t) => t.taskMs));
    const head = `${c.model}: of the distributed step's ${fmt(stepMs, 1)} ms the worker computed ${fmt(computeMs, 1)} ms (the local step: ${fmt(1000 / median(local.map((t) => t.stepsPerSec)), 1)} ms)`;
    // Compute counts the parts done ahead (below), which overlap the coordinator's turn: it can exceed the step.
    return stepMs >= computeMs
      ? `${head}, so ${fmt(stepMs - computeMs, 1)} ms went between tasks`
      : `${head}, more than the step: ${fmt(computeMs - stepMs, 1)} ms of it ran while the coordinator applied a result`;
  });
  const markdown = [
    `Each model with its own dataset, k = 1, seed 1, backend ${BACKEND} on both sides; the steps timed are in the table.`,
    '- **local**: `LocalTrainer` (what `duel local` runs) in the bench process.',
    '- **distributed**: the coordinator in the bench process (as `duel train` runs it: sync, shards = workers) and one',
    `  real \`duel worker --backend ${BACKEND}\` process over loopback WebSocket.`,
    '',
    "Start-up is excluded: `duel train`'s JSON `seconds` starts before the workers are spawned, so it includes their",
    'start-up (tsx, tfjs import, wasm compilation, MNIST), which on this machine is seconds. Both sides are timed after the same',
    `untimed warm-up (${OVERHEAD_CASES.map((c) => `${c.model} ${c.warmup[quick ? 1 : 0]} steps`).join(', ')}): each distributed run starts a fresh worker process, whose JavaScript`,
    'and wasm kernels tier up during its first steps, while the local trainer runs in the bench process that earlier runs warmed.',
    `${quick ? '1 repetition' : `${OVERHEAD_CASES.map((c) => `${c.model} ${c.reps}`).join(', ')} interleaved repetitions`} per model; medians shown.${quick ? ' **--quick: a few steps per model.**' : ''}`,
    '',
    table(['trainer', 'steps/s', 'ms / step', 'img/s', 'steps timed', 'cores busy', 'worker compute ms / task', 'ratio to local'], tableRows),
    '',
    `Target ≥ 0.9: ${verdicts.join('; ')}.`,
    `${split.join('; ')}: two round trips per step (the D result, then the G task needs the new D), the codec on both ends,`,
    'the round machine, Adam and the weights broadcast. That cost is per step and mostly fixed latency, so it weighs on a model',
    'in inverse proportion to its compute: mlp2d (a ~10 ms step) pays it as a share, the MNIST models hardly at all.',
    "The worker's compute includes two parts it computes while the coordinator applies its previous result",
    '(TaskRunner.prefetchAfter): the real half of each D task, during the G result before it, and G(z) of each G task, during',
    'the D result before it. They are off the round trip: that is how the distributed step can be shorter than the local one,',
    'whose steps run back to back in one thread.',
    '',
    caption(m),
  ].join('\n');
  return {
    title: '4. (b) Overhead: 1 worker vs the local trainer',
    markdown,
    summary: `overhead: distributed/local = ${rows.map(({ c, ratio }) => `${c.model} ${fmt(ratio, 2)}`).join(', ')} (target 0.9)`,
  };
}

export async function scalingFigure(m: Machine, quick: boolean): Promise<Section> {
  const cfg = config(quick ? 60 : 200);
  const counts = quick ? [1, 2, 4] : [1, 2, 4, 8];
  const res: Timed[] = [];
  for (const n of counts) {
    res.push(await timeDistributed(cfg, n));
    log(`scaling: ${n} worker(s) ${fmt(res.at(-1)!.stepsPerSec * samplesPerStep(cfg), 0)} img/s`);
  }
  const ips = res.map((r) => r.stepsPerSec * samplesPerStep(cfg));
  const rows = counts.map((n, i) => [
    n,
    cfg.batchSize / n,
    fmt(ips[i], 0),
    fmt(ips[i] / ips[0], 2),
    fmt(res[i].mainCpu, 2),
    fmt(res[i].workersCpu, 2),
    fmt(res[i].mainCpu + res[i].workersCpu, 2),
    fmt(res[i].taskMs, 1),
  ]);
  const busiest = Math.max(...res.map((r) => r.mainCpu + r.workersCpu));
  const markdown = [
    `Throughput of \`mlp2d\` on ring8 (global batch ${cfg.batchSize}, split into one shard per worker), ${cfg.steps} steps, \`duel worker --backend ${BACKEND}\``,
    'processes and the coordinator in the bench process; timed from the first step after all workers joined.',
    'img/s counts 3 × batch samples per step (2B through D, B through G). "Cores busy" is CPU seconds per wall second;',
    "the last column is the median of the workers' own compute time per task (D and G), as their results report it.",
    '',
    table(['workers', 'batch per worker', 'img/s', 'speed-up vs 1', 'coordinator cores', 'workers cores', 'total cores busy', 'worker compute ms / task'], rows),
    '',
    `This machine has ${m.cores} cores. At most ${fmt(busiest, 2)} of them were busy in any row: ${saturation(res, counts, m.cores)}`,
    shardCost(res, counts, cfg.batchSize),
    `${quick ? '**--quick: 60 steps per row.**' : ''}`,
    '',
    caption(m),
  ].join('\n');
  return { title: `5. Scaling: ${counts.join(', ')} workers (mlp2d)`, markdown, summary: `scaling img/s ${counts.join('/')} workers: ${ips.map((x) => fmt(x, 0)).join(' / ')}` };
}

/**
 * What a smaller shard saves per task, from the measured compute times: with
 * tfjs's fixed cost per op, a task on B/N samples costs more than 1/N of one
 * on B, which bounds data-parallel speed-up before any CPU runs out.
 */
function shardCost(res: Timed[], n: number[], batch: number): string {
  const base = res[0].taskMs;
  if (!(base > 0) || n[0] !== 1) return '';
  const parts = n.slice(1).map((k, i) => `batch ${batch / k}: ${fmt(res[i + 1].taskMs / base, 2)} (1/${k} = ${fmt(1 / k, 2)})`);
  return `A worker's compute per task, relative to the 1-worker row's (batch ${batch}): ${parts.join(', ')}. tfjs's fixed cost per op (about a fifth of a worker's busy time at this model's size) does not shrink with the batch, so a task on half the batch costs far more than half; where the CPUs are full the figure also holds time spent waiting for a core.`;
}

/** Says where the CPUs run out, from the measured cores-busy figures and the machine's load. */
function saturation(res: Timed[], n: number[], cores: number): string {
  const full = res.findIndex((r) => r.mainCpu + r.workersCpu >= 0.85 * cores);
  if (full >= 0) {
    return `duel's processes fill the CPUs from ${n[full]} worker${n[full] > 1 ? 's' : ''} on (≥ 85% of ${cores} cores), so more workers than that only split the same CPU time.`;
  }
  const load = loadavg()[0];
  if (load >= cores) {
    return `duel's processes never got 85% of the ${cores} cores because the machine was already saturated by other work (1-min load average ${load.toFixed(1)}), so these rows measure contention, not scaling.`;
  }
  return 'the CPUs did not saturate; the lockstep rounds (a worker waits for the update and the weights broadcast, the coordinator for the slowest shard) bound the rate.';
}
