/**
 * Micro-benchmarks of the coordinator's per-result hot path on the `mlp`
 * model (G 1.49M, D 0.53M parameters), in one process:
 *
 *   node --import tsx tools/bench/micro-hotpath.ts [REPS]
 *
 * ms per Adam step (G and D; weights passed through the kernel's chunk
 * buffers, and resident beside the moments), per allFinite pass over a G result, per
 * weightedMean of 1 to 4 G results (the wasm kernel and the JS loop), per decode of one G result frame and per
 * weights-broadcast encode. Medians of REPS (default 30) after a warm-up. On
 * a shared machine read them next to the load average printed at the end.
 */
import { loadavg } from 'node:os';
import { adamKernelName, adamStep, adamTensorJs, adoptWeights, createAdamState, MeanStrategy, meanIntoJs, meanKernelName, weightedMean, type AdamScalars } from '@duel/aggregation';
import { ganLayout } from '@duel/gan';
import { decodeFrame, encodeFrame, encodeWeightsOnce, limitsFor, type ResultFrame } from '@duel/protocol';
import { ganSpecFor, resolveRunConfig } from '@duel/trainer';
import { allFinite, cloneWeights, Rng, zerosLike, type NamedWeights, type TensorSpec } from '@duel/util';

const REPS = Number(process.argv[2] ?? 30);
const run = resolveRunConfig({ dataset: 'mnist', model: 'mlp', steps: 1, seed: 1 });
const layout = ganLayout(ganSpecFor(run));

function randomWeights(specs: readonly TensorSpec[], seed: number, scale: number): NamedWeights {
  const rng = new Rng(seed);
  const ws = zerosLike(specs);
  for (const w of ws) for (let i = 0; i < w.data.length; i++) w.data[i] = (rng.uniform() * 2 - 1) * scale;
  return ws;
}

function time(label: string, fn: () => void): number {
  for (let i = 0; i < 3; i++) fn();
  const ts: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  const med = ts[ts.length >> 1];
  console.log(`${label.padEnd(34)} ${med.toFixed(2).padStart(8)} ms  (min ${ts[0].toFixed(2)})`);
  return med;
}

for (const net of ['G', 'D'] as const) {
  const specs = layout[net];
  const w = randomWeights(specs, 1, 0.1);
  const g = randomWeights(specs, 2, 1e-3);
  const state = createAdamState(specs);
  const hp = { lr: 2e-4, beta1: 0.5, beta2: 0.999 };
  // The weights where they were before 2026-12-06 (passed through the kernel's chunk buffers), and beside m and v.
  time(`adamStep ${net} (${w.reduce((s, t) => s + t.data.length, 0)}, ${adamKernelName()}), weights copied`, () => adamStep(w, g, state, hp));
  const adopted = adoptWeights(state, w);
  time(`adamStep ${net}, weights resident`, () => adamStep(adopted, g, state, hp));
  // The JS fallback loop on its own (what adamStep ran before the wasm kernel).
  const f = Math.fround;
  const s: AdamScalars = { b1: f(0.5), b2: f(0.999), omb1: f(0.5), omb2: f(1 - 0.999), corr1: f(0.75), corr2: f(0.002), eps: f(1e-7), negLr: f(-2e-4) };
  time(`adamStep ${net}, JS loop`, () => {
    for (let k = 0; k < w.length; k++) adamTensorJs(w[k].data, g[k].data, state.m[k].data, state.v[k].data, s);
  });
}
const gG = randomWeights(layout.G, 3, 1e-3);
time('allFinite G', () => {
  if (!allFinite(gG)) throw new Error('not finite');
});
const out = zerosLike(layout.G);
const gG2 = randomWeights(layout.G, 4, 1e-3);
const gG3 = randomWeights(layout.G, 5, 1e-3);
const gG4 = randomWeights(layout.G, 6, 1e-3);
// weightedMean runs the wasm kernel; the JS loop (its fallback, and what it ran before 2026-12-06) beside it, on the same arrays.
const meanJs = (ups: NamedWeights[]) => {
  const norm = ups.map(() => 1 / ups.length);
  for (let k = 0; k < out.length; k++) meanIntoJs(out[k].data, ups.map((u) => u[k].data), norm);
};
for (const ups of [[gG], [gG, gG2], [gG, gG2, gG3], [gG, gG2, gG3, gG4]]) {
  const n = ups.length;
  time(`weightedMean G, ${n} update${n > 1 ? 's' : ''} (${n === 1 ? 'native copy' : meanKernelName()})`, () => weightedMean(ups, ups.map(() => 64), out));
  time(`weightedMean G, ${n} update${n > 1 ? 's' : ''}, JS loop`, () => meanJs(ups));
}
const frame = encodeFrame({
  t: 'result',
  taskId: 't-1',
  workerId: 'w-1',
  phase: 'G',
  versions: { g: 1, d: 1 },
  grads: gG,
  stats: { loss: 1, dReal: 0.5, dFake: 0.5, samples: 64, computeMs: 1 },
});
const limits = limitsFor(layout);
time('decodeFrame G result (validated)', () => decodeFrame(frame, { layout, limits, from: 'worker' }));
time('encodeWeightsOnce G', () => encodeWeightsOnce('G', 1, gG));
const decoded = (decodeFrame(frame, { layout, limits, from: 'worker' }) as ResultFrame).grads;
const mean = new MeanStrategy({ specs: layout.G });
time('mean strategy, 1 decoded G result', () => mean.aggregate([{ workerId: 'w', grads: decoded, samples: 64 }]));
const unchecked = cloneWeights(gG);
time('mean strategy, 1 unchecked G result', () => mean.aggregate([{ workerId: 'w', grads: unchecked, samples: 64 }]));
console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
