/**
 * Figure 1 (P5): ms per training step (one D-gradient + one G-gradient, each
 * read back to the CPU as a worker must) for every Node backend × model preset,
 * on random data in [-1, 1] (the cost does not depend on the pixels).
 */
import { tf, type ConcreteBackendName } from '@duel/gan';
import { releaseNodeWebGpu, selectNodeBackend } from '@duel/gan-node';
import { caption, fmt, log, median, table, type Machine, type Section } from './common';
import { timeSteps } from './step-timer';

export interface BackendCell {
  backend: string;
  model: string;
  batch: number;
  /** Median ms per step, or NaN when not measured. */
  ms: number;
  steps: number;
  note: string;
}

export interface BackendsResult {
  section: Section;
  cells: BackendCell[];
}

interface Plan {
  model: 'mlp2d' | 'mlp' | 'dcgan';
  batch: number;
}

const PLANS: Plan[] = [
  { model: 'mlp2d', batch: 256 },
  { model: 'mlp', batch: 64 },
  { model: 'dcgan', batch: 64 },
];
const BACKENDS: ConcreteBackendName[] = ['cpu', 'wasm', 'webgpu', 'tensorflow'];
const WARMUP = 2;

/**
 * Steps per cell: few where a step takes seconds. tfjs-backend-cpu's conv
 * gradient kernels are naive loops: one dcgan step at batch 8 takes over a
 * minute on this machine (batch 64 would take ~10), so cpu dcgan is timed once
 * at batch 8 and skipped in --quick.
 */
function cellPlan(backend: string, p: Plan, quick: boolean): { batch: number; warmup: number; steps: number } | null {
  if (backend === 'cpu' && p.model === 'dcgan') return quick ? null : { batch: 8, warmup: 0, steps: 1 };
  if (p.model === 'mlp2d') return { batch: p.batch, warmup: WARMUP, steps: quick ? 5 : 20 };
  if (backend === 'cpu') return { batch: p.batch, warmup: quick ? 1 : WARMUP, steps: quick ? 2 : 5 };
  return { batch: p.batch, warmup: WARMUP, steps: quick ? 3 : 10 };
}

export async function backendsFigure(m: Machine, quick: boolean): Promise<BackendsResult> {
  const cells: BackendCell[] = [];
  for (const name of BACKENDS) {
    // webgpu asks Dawn for an adapter; without a GPU or lavapipe there is none.
    const sel = await selectNodeBackend(name, { adapterTimeoutMs: 10_000 }).catch((e: Error) => e);
    if (sel instanceof Error) {
      const why = sel.message.replace(/^.*? is unavailable: /, '').replace(/\s+/g, ' ').replace(/\|/g, '/').slice(0, 160);
      log(`backend ${name}: unavailable (${why})`);
      for (const p of PLANS) cells.push({ backend: name, model: p.model, batch: p.batch, ms: Number.NaN, steps: 0, note: `unavailable: ${why}` });
      continue;
    }
    for (const p of PLANS) {
      const c = cellPlan(name, p, quick);
      if (!c) {
        cells.push({ backend: name, model: p.model, batch: p.batch, ms: Number.NaN, steps: 0, note: 'skipped in --quick (a step takes minutes)' });
        continue;
      }
      const { times } = await timeSteps(p.model, c.batch, c.warmup, c.steps);
      const ms = median(times);
      log(`backend ${name} ${p.model} b${c.batch}: ${fmt(ms)} ms/step (${times.map((t) => t.toFixed(0)).join(', ')})`);
      const smaller = c.batch !== p.batch ? `; batch ${c.batch}, not ${p.batch}: naive conv gradient kernels` : '';
      cells.push({ backend: name, model: p.model, batch: c.batch, ms, steps: c.steps, note: `${sel.device}; ${c.warmup} warm-up, ${c.steps} timed${smaller}` });
    }
    if (name === 'webgpu') releaseNodeWebGpu();
  }
  tf.engine().reset();
  return { cells, section: render(m, cells, quick) };
}

/** Samples one step processes: 2B through D (real + fake) and B through G and D in the G-step. */
const samplesPerStep = (batch: number) => 3 * batch;

function render(m: Machine, cells: BackendCell[], quick: boolean): Section {
  // An unavailable backend gets one row, not one per model.
  const shown = cells.filter((c, i) => !c.note.startsWith('unavailable') || cells.findIndex((x) => x.backend === c.backend) === i);
  const rows = shown.map((c) => [
    c.backend,
    c.note.startsWith('unavailable') ? 'all' : c.model,
    c.note.startsWith('unavailable') ? '—' : c.batch,
    fmt(c.ms, 0),
    Number.isFinite(c.ms) ? fmt((samplesPerStep(c.batch) * 1000) / c.ms, 0) : 'n/a',
    c.note,
  ]);
  // img/s, not ms, so a cell timed at a smaller batch still compares per image.
  const ips = (backend: string, model: string) => {
    const c = cells.find((x) => x.backend === backend && x.model === model);
    return c ? (samplesPerStep(c.batch) * 1000) / c.ms : Number.NaN;
  };
  const ratios = ['mlp2d', 'mlp', 'dcgan']
    .map((model) => {
      const r = ips('wasm', model) / ips('cpu', model);
      return `${model} ${Number.isFinite(r) ? `${fmt(r, 1)}×` : 'n/a'}`;
    })
    .join(', ');
  const markdown = [
    'One step = one D-gradient (real + fake batch) + one G-gradient, each read back to the CPU as a worker does;',
    'img/s counts the 3B samples a step pushes through the nets. Median of the timed steps after the warm-up;',
    `random data in [-1, 1]; weights from initWeights.${quick ? ' **--quick run: few steps per cell.**' : ''}`,
    '',
    table(['backend', 'model', 'batch', 'ms / step (median)', 'img/s', 'device / notes'], rows),
    '',
    `wasm over cpu in img/s, same run: ${ratios}.`,
    '',
    'The GPU worker\'s sweep (mlp and dcgan at batches 64 to 1024, with the first step\'s kernel compilation and the',
    'gradients\' readback) runs on a lent GPU machine, which has no npm, from the kit in tools/device (README.md there).',
    '',
    caption(m),
  ].join('\n');
  return { title: '1. Backends (P5): ms per step', markdown, summary: `backends, wasm over cpu (img/s): ${ratios}` };
}
