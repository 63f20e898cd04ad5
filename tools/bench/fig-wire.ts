/**
 * Figures 7 (wire, P4) and 8 (time to quality, P6): ring8 trained by the real
 * coordinator (in this process) and real `duel worker` processes, once per
 * gradient codec, with the quality evaluated every EVAL_EVERY steps during the
 * run (the evaluation runs in the coordinator's process and its time counts).
 *
 * - bytes per update: `duel_bytes_in_total` (everything the workers sent:
 *   results, hellos, pongs) divided by the updates applied, relative to fp32 in
 *   the same figure; plus the exact frame size of one D and one G result for
 *   the bigger models, encoded with each codec.
 * - time to quality: wall seconds from the coordinator's start (so the workers'
 *   start-up counts) and from the first completed step, to the first
 *   evaluation with 8/8 modes and hq ≥ 0.97.
 */
import { defaultCoordinatorOptions, startCoordinator, type CoordinatorOptions } from '@duel/coordinator';
import { ganLayout, resolveModel } from '@duel/gan';
import { selectNodeBackend } from '@duel/gan-node';
import { encodeFrame, encodeTensors, formatCodecSpec, parseCodecSpec, type CodecSpec, type Phase } from '@duel/protocol';
import { resolveRunConfig, type RunConfig } from '@duel/trainer';
import { Rng, zerosLike, type TensorSpec } from '@duel/util';
import { caption, fmt, log, metricSum, spawnDuel, stop, table, type Machine, type Section } from './common';

const BACKEND = 'wasm';
const WORKERS = 2;
const CODECS = ['fp32', 'fp16', 'int8', 'topk:0.1'];
/** The quality bar of P6 (issue 8) and of the README's target: 8/8 modes and hq ≥ 0.97. */
const HQ_TARGET = 0.97;
/**
 * The ring8 quality bar a codec must keep at the full schedule (issue 2's, as
 * tests/quality/two-d.test.ts asserts for fp32). The codec test in the quality
 * suite asserts the shorter 2000-step bar instead (tests/quality/steps.ts).
 */
export const HQ_GUARD = 0.97;

interface Eval {
  step: number;
  sinceStart: number;
  sinceFirstStep: number;
  modes: number;
  hq: number;
}

interface CodecRun {
  codec: string;
  steps: number;
  seconds: number;
  bytesPerUpdate: number;
  evals: Eval[];
  reached: Eval | null;
  final: Eval;
}

export function qualityConfig(steps: number, seed = 1): RunConfig {
  return resolveRunConfig({ dataset: 'ring8', steps, seed });
}

/** One distributed ring8 run with `codec`, evaluated every `every` steps. */
export async function trainWithCodec(cfg: RunConfig, codec: CodecSpec, every: number, over: Partial<CoordinatorOptions> = {}): Promise<CodecRun> {
  await selectNodeBackend(BACKEND); // the coordinator samples G for evaluation on this backend
  const t0 = performance.now();
  const c = await startCoordinator(defaultCoordinatorOptions(cfg, { port: 0, shards: WORKERS, codec, ...over }));
  const svc = c.service;
  const procs = Array.from({ length: WORKERS }, () => spawnDuel(['worker', '--coordinator', c.wsUrl, '--backend', BACKEND]));
  const tails = procs.map(() => [] as string[]);
  procs.forEach((p, i) => p.stderr!.setEncoding('utf8').on('data', (s: string) => tails[i].push(...s.split('\n').slice(-5))));
  const evals: Eval[] = [];
  let firstStep = Number.NaN;
  let pending: Promise<void> = Promise.resolve();
  // Evaluations queue up (one at a time); each reports the step it sampled G at, which may be later than the one that asked.
  const evaluate = () => {
    pending = pending.then(async () => {
      const q = await svc.evaluate();
      const now = performance.now();
      const step = svc.qualityHistory.at(-1)?.step ?? last;
      evals.push({ step, sinceStart: (now - t0) / 1000, sinceFirstStep: (now - firstStep) / 1000, modes: q.kind === '2d' ? q.modes : 0, hq: q.kind === '2d' ? q.hq : 0 });
    });
  };
  const rec = svc.recorder;
  const record = rec.step.bind(rec);
  let last = 0;
  rec.step = (step: number) => {
    if (step !== last) {
      last = step;
      if (step === 1) firstStep = performance.now();
      if (step % every === 0) evaluate();
    }
    record(step);
  };
  const died = new Promise<never>((_, fail) =>
    procs.forEach((p, i) => p.once('exit', (code) => fail(new Error(`duel worker exited (${code}):\n${tails[i].slice(-10).join('\n')}`)))),
  );
  try {
    await Promise.race([svc.whenDone(), died]);
    const seconds = (performance.now() - t0) / 1000;
    if (last % every !== 0) evaluate();
    await pending;
    const bytes = metricSum(await (await fetch(`${c.url}/metrics`)).text(), 'duel_bytes_in_total');
    const updates = svc.state.versions.G + svc.state.versions.D;
    const reached = evals.find((e) => e.modes === 8 && e.hq >= HQ_TARGET) ?? null;
    return { codec: formatCodecSpec(codec), steps: last, seconds, bytesPerUpdate: bytes / updates, evals, reached, final: evals.at(-1)! };
  } finally {
    died.catch(() => undefined);
    await Promise.all(procs.map((p) => stop(p)));
    await c.close();
  }
}

/** Bytes of one result frame of `specs` with `codec` (random normal gradients; only topk's nnz depends on nothing but the ratio). */
function frameBytes(specs: readonly TensorSpec[], phase: Phase, codec: CodecSpec): number {
  const grads = zerosLike(specs);
  const rng = new Rng(1);
  for (const g of grads) rng.fillNormal(g.data);
  const stats = { loss: 0.7, dReal: 0.5, dFake: 0.5, samples: 64, computeMs: 10 };
  const frame = { t: 'result' as const, taskId: '123.D0.0.0', workerId: 'w-1-abcdef', phase, versions: { g: 1000, d: 1000 }, stats };
  return encodeFrame({ ...frame, grads: encodeTensors(grads, codec), ...(codec.name === 'fp32' ? {} : { codec: codec.name }) }).length;
}

/**
 * Training steps per codec run: ring8's default schedule (12000), the one that
 * reaches hq ≥ 0.97 at all (the learning rate decays over the whole run, so a
 * shorter run does not). DUEL_BENCH_WIRE_STEPS overrides it; 0 measures frame
 * sizes only (no training, seconds).
 */
function wireSteps(quick: boolean): number {
  const env = process.env.DUEL_BENCH_WIRE_STEPS;
  return env !== undefined && env !== '' ? Number(env) : quick ? 300 : resolveRunConfig({ dataset: 'ring8' }).steps;
}

export async function wireFigures(m: Machine, quick: boolean): Promise<Section[]> {
  const steps = wireSteps(quick);
  if (!(steps > 0)) return [sizesOnlySection(m)];
  const every = quick ? 100 : 500;
  const cfg = qualityConfig(steps);
  const runs: CodecRun[] = [];
  for (const name of quick ? ['fp32', 'int8'] : CODECS) {
    const r = await trainWithCodec(cfg, parseCodecSpec(name), every);
    log(`wire ${name}: ${fmt(r.bytesPerUpdate, 0)} B/update, final ${r.final.modes}/8 hq ${fmt(r.final.hq, 3)}, reached ${r.reached ? `${fmt(r.reached.sinceStart, 0)} s` : 'never'}`);
    runs.push(r);
  }
  // P6 in async mode too (fp32): every worker takes the next position as soon as it is idle, with no round barrier.
  const asyncRun = quick ? null : await trainWithCodec(cfg, parseCodecSpec('fp32'), every, ASYNC_P6);
  if (asyncRun) log(`time to quality, async: final ${asyncRun.final.modes}/8 hq ${fmt(asyncRun.final.hq, 3)}, reached ${asyncRun.reached ? `${fmt(asyncRun.reached.sinceStart, 0)} s` : 'never'}`);
  return [wireSection(m, cfg, runs, every, quick), ttqSection(m, cfg, asyncRun ? [...runs, { ...asyncRun, codec: ASYNC_LABEL }] : runs, every, quick)];
}

/** The async row of figure 8: `--mode async --staleness 1`, fp32. */
const ASYNC_P6: Partial<CoordinatorOptions> = { mode: 'async', staleness: 1 };
const ASYNC_LABEL = 'fp32, `--mode async --staleness 1`';

function wireSection(m: Machine, cfg: RunConfig, runs: CodecRun[], every: number, quick: boolean): Section {
  const fp32 = runs.find((r) => r.codec === 'fp32')!;
  const rows = runs.map((r) => [
    r.codec,
    fmt(r.bytesPerUpdate, 0),
    `**${fmt(r.bytesPerUpdate / fp32.bytesPerUpdate, 3)}**`,
    `${r.final.modes}/8`,
    fmt(r.final.hq, 3),
    r.final.modes === 8 && r.final.hq >= HQ_GUARD ? 'yes' : 'no',
  ]);
  const ratioOf = (c: string) => runs.find((r) => r.codec === c);
  const verdict = (c: string, target: number) => {
    const r = ratioOf(c);
    if (!r) return `${c}: not run`;
    const ratio = r.bytesPerUpdate / fp32.bytesPerUpdate;
    const q = r.final.modes === 8 && r.final.hq >= HQ_GUARD;
    return `${c} ${fmt(ratio, 3)} (target ≤ ${target}: ${ratio <= target ? 'met' : 'not met'}; quality bar ${q ? 'met' : 'not met'})`;
  };
  const markdown = [
    `ring8, default run options (mlp2d width 128, batch ${cfg.batchSize}, pack ${cfg.pack}, Adam D ${cfg.lrD} / G ${cfg.lrG}, linear decay, G-EMA ${cfg.gEma}) for`,
    `**${cfg.steps} steps**, seed ${cfg.seed}, ${WORKERS} \`duel worker --backend ${BACKEND}\` processes, \`--codec\` on the coordinator. Bytes per update is`,
    '`duel_bytes_in_total` (all the workers sent: results, hellos, pongs) ÷ updates applied (D + G). Quality on 2,500 samples',
    `of the EMA G at the end; the bar is the fp32 guard's (8/8 modes, hq ≥ ${HQ_GUARD}, tests/quality).${quick ? ' **--quick: 300 steps, fp32 and int8 only.**' : ''}`,
    '',
    table(['codec', 'bytes / update', 'ratio to fp32', 'modes', 'hq', 'quality bar met'], rows),
    '',
    `Targets: ${verdict('fp16', 0.5)}; ${verdict('int8', 0.27)}.`,
    'mlp2d is small (its frames are 16–70 KB), so the msgpack header is a visible part of a frame. For the bigger models',
    'the frame size of one result, encoded with each codec, relative to fp32 (exact, no training):',
    '',
    sizeTable(),
    '',
    'MNIST quality with each codec: figure 12 (`npm run bench -- --only 12`, one `duel train` per codec).',
    '',
    caption(m),
  ].join('\n');
  return { title: '7. Wire: bytes per update per codec, and the quality reached (P4)', markdown, summary: `wire (bytes/update vs fp32): ${runs.map((r) => `${r.codec} ${fmt(r.bytesPerUpdate / fp32.bytesPerUpdate, 3)}`).join(', ')}` };
}

/** Bytes of one step's result frames (one D, one G: k = 1) of `model` with `codec`, relative to fp32 (exact; no training). */
export function stepFrameRatio(model: string, codec: string): number {
  const layout = ganLayout(resolveModel(model));
  const sum = (spec: CodecSpec) => frameBytes(layout.D, 'D', spec) + frameBytes(layout.G, 'G', spec);
  return sum(parseCodecSpec(codec)) / sum({ name: 'fp32' });
}

/** One D and one G result frame per model, encoded with each codec: bytes relative to fp32 (exact; no training). */
function sizeTable(): string {
  const models = ['mlp2d', 'mlp', 'dcgan'].map((name) => ({ name, layout: ganLayout(resolveModel(name)) }));
  const rows = models.flatMap(({ name, layout }) => {
    const per = (c: CodecSpec) => (['D', 'G'] as const).map((net) => frameBytes(layout[net], net, c));
    const base = per({ name: 'fp32' });
    return [
      ...(['D', 'G'] as const).map((net, i) => [name, net, fmt(base[i] / 1e6, 4), ...CODECS.slice(1).map((c) => fmt(per(parseCodecSpec(c))[i] / base[i], 4))]),
      [name, '**D + G (one step, k = 1)**', fmt((base[0] + base[1]) / 1e6, 4), ...CODECS.slice(1).map((c) => `**${fmt(stepFrameRatio(name, c), 4)}**`)],
    ];
  });
  return table(['model', 'result frame', 'fp32 MB', ...CODECS.slice(1).map((c) => `${c} ÷ fp32`)], rows);
}

function sizesOnlySection(m: Machine): Section {
  const ratio = (c: string) => stepFrameRatio('mlp2d', c);
  const markdown = [
    'Bytes of the result frames a worker sends per update, encoded with each codec, relative to fp32: the exact frame',
    'bytes (header, descriptors, padding and payload; the WebSocket framing adds 2–14 bytes), from one D and one G result',
    'of random normal gradients per model (only top-k\'s entry count depends on the ratio, nothing on the values).',
    '',
    sizeTable(),
    '',
    `Targets (ring8's mlp2d, one step): fp16 ${fmt(ratio('fp16'), 4)} (≤ 0.5: ${ratio('fp16') <= 0.5 ? 'met' : 'not met'}), int8 ${fmt(ratio('int8'), 4)} (≤ 0.27: ${ratio('int8') <= 0.27 ? 'met' : 'not met'}).`,
    'A coded frame carries the same msgpack header as fp32 (names, shapes, offsets; plus `codec`), so fp16 is 0.5 plus half',
    "the header's share: about 0.003 on mlp2d's 70–135 KB frames, under 0.0005 on the MB-sized frames of mlp and dcgan.",
    'This run trained nothing (DUEL_BENCH_WIRE_STEPS=0): the quality reached with each codec is below, measured with the CLI.',
    '',
    caption(m),
  ].join('\n');
  return { title: '7. Wire: bytes per update per codec (P4)', markdown, summary: `wire (bytes per step vs fp32, mlp2d): fp16 ${fmt(ratio('fp16'), 3)}, int8 ${fmt(ratio('int8'), 3)}, topk:0.1 ${fmt(ratio('topk:0.1'), 3)}` };
}

function ttqSection(m: Machine, cfg: RunConfig, runs: CodecRun[], every: number, quick: boolean): Section {
  const rows = runs.map((r) => [
    r.codec,
    r.reached ? `**${fmt(r.reached.sinceStart, 1)}**` : 'not reached',
    r.reached ? fmt(r.reached.sinceFirstStep, 1) : '—',
    r.reached ? r.reached.step : '—',
    fmt(r.seconds, 1),
    r.evals.map((e) => `${e.step}: ${e.modes}/${fmt(e.hq, 2)}`).join(' · '),
  ]);
  const fp32 = runs.find((r) => r.codec === 'fp32');
  const t = fp32?.reached?.sinceStart;
  const markdown = [
    `The runs of figure 7 (ring8, ${WORKERS} workers, ${cfg.steps} steps), evaluated every ${every} steps during the run by the coordinator`,
    '(2,500 samples of the EMA G; the evaluation shares the CPUs with training and its time counts). Time to quality is the',
    `wall time to the first evaluation with 8/8 modes and hq ≥ ${HQ_TARGET}: from the coordinator's start (the workers' start-up, seconds`,
    'here, included) and from the end of the first step. The last row is the same fp32 run in async mode (no round',
    'barrier: each worker takes the next position as soon as it is idle, so a G update is computed against a D one update',
    'older, as in simultaneous rather than alternating descent); the target is read off the sync fp32 row.',
    '',
    table(['codec', 's to 8/8 & hq ≥ 0.97, from start', 'from first step', 'at step', 'run s (total)', 'evaluations (step: modes/hq)'], rows),
    '',
    `Target ≤ 60 s (fp32): ${t === undefined ? 'not met (not reached within the run)' : t <= 60 ? `met (${fmt(t, 1)} s)` : `not met (${fmt(t, 1)} s)`}.${quick ? ' **--quick: 300 steps.**' : ''}`,
    '',
    caption(m),
  ].join('\n');
  return { title: '8. Time to quality: ring8, 2 workers (P6)', markdown, summary: `time to 8/8 & hq ≥ 0.97 (2 workers, fp32): ${t === undefined ? 'not reached' : `${fmt(t, 1)} s`}` };
}
