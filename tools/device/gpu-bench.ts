/**
 * The GPU worker's figures for issue #8 (P5 on a GPU): ms per step and img/s
 * of a worker's step (one D-gradient on a real and a fake batch, one
 * G-gradient, each read back to the CPU) for each backend × model × batch,
 * the first step's time at each batch (kernel compilation for that shape),
 * the time to read one step's gradients back to the CPU, and the step's
 * working memory on the backend. Batches above --micro run a second time in
 * micro-batches of --micro (`duel worker --micro-batch`): gradients summed on
 * the device, read back once (CPU backends stop at batch 256, so with the
 * default --micro 256 only GPU backends get these rows).
 *
 *   node --import tsx tools/device/gpu-bench.ts [--backends webgpu,tensorflow,wasm]
 *     [--models mlp,dcgan] [--batches 64,128,256,512,1024] [--micro 256] [--budget-ms 4000] [--out DIR]
 *
 * On a device machine it runs from the bundle tools/device/build-kit.sh makes
 * (no npm there): see tools/device/README.md. Writes gpu-bench.md (a table for
 * BENCHMARKS.md) and gpu-bench.json to --out; a backend that is unavailable
 * gets one row that says why. A CPU backend (wasm, cpu) is timed at batches up
 * to 256 only, as the baseline the GPU rows are compared with.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { tf, type ConcreteBackendName } from '@duel/gan';
import { releaseNodeWebGpu, selectNodeBackend } from '@duel/gan-node';
import { median, readbackMs, stepPeakBytes, timeSteps } from '../bench/step-timer';

interface Cell {
  backend: string;
  device: string;
  model: string;
  batch: number;
  /** Micro-batch size the batch ran in, or null: whole. */
  micro: number | null;
  firstMs: number;
  ms: number;
  steps: number;
  imgPerSec: number;
  readbackMs: number;
  /** Peak bytes of tensors over one step less the weights, MiB. */
  workingMiB: number;
  note: string;
}

interface Args {
  backends: ConcreteBackendName[];
  models: string[];
  batches: number[];
  micro: number;
  budgetMs: number;
  out: string | null;
}

const CPU_BACKENDS = new Set(['wasm', 'cpu']);
const CPU_MAX_BATCH = 256;

function parseArgs(argv: string[]): Args {
  const a: Args = { backends: ['webgpu', 'tensorflow', 'wasm'], models: ['mlp', 'dcgan'], batches: [64, 128, 256, 512, 1024], micro: 256, budgetMs: 4000, out: null };
  const list = (v: string | undefined, flag: string) => {
    if (!v) throw new Error(`gpu-bench: ${flag} needs a value`);
    return v.split(',').filter(Boolean);
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    if (f === '--backends') a.backends = list(argv[++i], f) as ConcreteBackendName[];
    else if (f === '--models') a.models = list(argv[++i], f);
    else if (f === '--batches') a.batches = list(argv[++i], f).map(Number);
    else if (f === '--budget-ms') a.budgetMs = Number(argv[++i]);
    else if (f === '--micro') a.micro = Number(argv[++i]);
    else if (f === '--out') a.out = argv[++i] ?? null;
    else throw new Error(`gpu-bench: unknown flag ${f}`);
  }
  if (a.batches.some((b) => !Number.isInteger(b) || b <= 0 || b % 2 !== 0)) throw new Error('gpu-bench: batches must be positive even integers');
  if (!Number.isInteger(a.micro) || a.micro <= 0 || a.micro % 2 !== 0) throw new Error('gpu-bench: --micro must be a positive even integer');
  if (!(a.budgetMs > 0)) throw new Error('gpu-bench: --budget-ms must be > 0');
  return a;
}

/** Samples one step pushes through the nets: 2B through D (real + fake), B through G and D in the G-step (as figure 1 counts them). */
const samplesPerStep = (batch: number) => 3 * batch;

async function measure(args: Args, log: (s: string) => void): Promise<Cell[]> {
  const cells: Cell[] = [];
  for (const backend of args.backends) {
    const sel = await selectNodeBackend(backend, { adapterTimeoutMs: 20_000 }).catch((e: Error) => e);
    if (sel instanceof Error) {
      const why = sel.message.replace(/\s+/g, ' ').slice(0, 200);
      log(`${backend}: unavailable: ${why}`);
      cells.push({ backend, device: '', model: 'all', batch: 0, micro: null, firstMs: NaN, ms: NaN, steps: 0, imgPerSec: NaN, readbackMs: NaN, workingMiB: NaN, note: `unavailable: ${why}` });
      continue;
    }
    try {
      for (const model of args.models) {
        const rb = await readbackMs(model, 5);
        for (const batch of args.batches) {
          if (CPU_BACKENDS.has(backend) && batch > CPU_MAX_BATCH) continue;
          const micros = batch > args.micro ? [null, args.micro] : [null];
          for (const micro of micros) {
            const t = await timeSteps(model, batch, 2, 50, { budgetMs: args.budgetMs, minSteps: 3, microBatch: micro ?? undefined });
            const ms = median(t.times);
            const cell: Cell = {
              backend,
              device: sel.device,
              model,
              batch,
              micro,
              firstMs: t.firstMs,
              ms,
              steps: t.times.length,
              imgPerSec: (samplesPerStep(batch) * 1000) / ms,
              readbackMs: rb,
              workingMiB: (await stepPeakBytes(model, batch, micro ?? undefined)) / 2 ** 20,
              note: '',
            };
            log(
              `${backend} ${model} b${batch}${micro ? `/${micro}` : ''}: first ${t.firstMs.toFixed(0)} ms, median ${ms.toFixed(1)} ms over ${t.times.length}, ${cell.imgPerSec.toFixed(0)} img/s; readback ${rb.toFixed(2)} ms; working ${cell.workingMiB.toFixed(0)} MiB; tensors ${tf.memory().numTensors}`,
            );
            cells.push(cell);
          }
        }
      }
    } finally {
      if (backend === 'webgpu') releaseNodeWebGpu();
    }
  }
  return cells;
}

function render(cells: Cell[], machine: string): string {
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : 'n/a');
  const rows = cells.map((c) =>
    c.note.startsWith('unavailable')
      ? `| ${c.backend} | all | — | — | n/a | n/a | n/a | n/a | n/a | n/a | ${c.note} |`
      : `| ${c.backend} | ${c.model} | ${c.batch} | ${c.micro ? `${c.batch / c.micro} × ${c.micro}` : 'whole'} | ${f(c.firstMs, 0)} | ${f(c.ms)} | ${f(c.imgPerSec, 0)} | ${f(c.workingMiB, 0)} | ${f(c.readbackMs, 2)} | ${f((100 * c.readbackMs) / c.ms, 0)}% | ${c.device}; ${c.steps} timed |`,
  );
  const best = (model: string) => {
    const gpu = cells.filter((c) => c.model === model && !CPU_BACKENDS.has(c.backend) && Number.isFinite(c.imgPerSec));
    if (gpu.length === 0) return `${model}: no GPU row`;
    const top = gpu.reduce((a, b) => (b.imgPerSec > a.imgPerSec ? b : a));
    return `${model} ${f(top.imgPerSec, 0)} img/s (${top.backend}, batch ${top.batch})`;
  };
  return [
    '| backend | model | batch | run as | first step ms (compiles) | ms / step (median) | img/s | working MiB | readback ms (D + G grads) | readback share | device / notes |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `Best GPU img/s: ${best('mlp')}; ${best('dcgan')}. The first spike (issue #8): 12k img/s (MLP, B=1024) and 2.3k (DCGAN, B=256), H100.`,
    '',
    `_${machine}_`,
  ].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (s: string) => process.stderr.write(`[gpu-bench] ${s}\n`);
  const started = new Date();
  const cells = await measure(args, log);
  const machine = `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${process.env.DUEL_COMMIT ?? 'unknown'}`;
  const md = render(cells, machine);
  process.stdout.write(`${md}\n`);
  if (args.out) {
    mkdirSync(args.out, { recursive: true });
    writeFileSync(join(args.out, 'gpu-bench.md'), `${md}\n`);
    writeFileSync(join(args.out, 'gpu-bench.json'), JSON.stringify({ machine, cells }, null, 1));
  }
}

main().then(
  // Exit at once: Dawn's device and tfjs's wasm threads may otherwise keep Node alive.
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`gpu-bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
