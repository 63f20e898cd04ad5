/**
 * Figure 13: a task batch run whole against the same batch in micro-batches
 * (StepOptions.microBatch, `duel worker --micro-batch`): ms per step and the
 * step's working memory on the backend, side by side on wasm.
 */
import { tf } from '@duel/gan';
import { selectNodeBackend } from '@duel/gan-node';
import { caption, fmt, log, median, table, type Machine, type Section } from './common';
import { stepPeakBytes, timeSteps } from './step-timer';

interface Case {
  model: 'mlp2d' | 'mlp' | 'dcgan';
  batch: number;
  micro: number;
  /** Timed steps per mode and round, and rounds (whole and micro-batched alternate). */
  steps: number;
  rounds: number;
}

const CASES: Case[] = [
  { model: 'mlp2d', batch: 1024, micro: 256, steps: 10, rounds: 3 },
  { model: 'mlp', batch: 256, micro: 64, steps: 3, rounds: 3 },
  { model: 'dcgan', batch: 256, micro: 64, steps: 1, rounds: 3 },
];

export async function microBatchFigure(m: Machine, quick: boolean): Promise<Section> {
  const sel = await selectNodeBackend('wasm');
  const rows: (string | number)[][] = [];
  const notes: string[] = [];
  for (const c of quick ? CASES.slice(0, 2) : CASES) {
    const times: Record<'whole' | 'micro', number[]> = { whole: [], micro: [] };
    for (let r = 0; r < (quick ? 1 : c.rounds); r++) {
      for (const mode of ['whole', 'micro'] as const) {
        const t = await timeSteps(c.model, c.batch, 1, quick ? 1 : c.steps, { microBatch: mode === 'micro' ? c.micro : undefined });
        times[mode].push(...t.times);
      }
    }
    const peak = { whole: await stepPeakBytes(c.model, c.batch), micro: await stepPeakBytes(c.model, c.batch, c.micro) };
    const ms = { whole: median(times.whole), micro: median(times.micro) };
    log(`micro-batch ${c.model} b${c.batch}/${c.micro}: ${fmt(ms.whole)} vs ${fmt(ms.micro)} ms; peak ${fmt(peak.whole / 2 ** 20)} vs ${fmt(peak.micro / 2 ** 20)} MiB`);
    for (const mode of ['whole', 'micro'] as const) {
      rows.push([
        c.model,
        c.batch,
        mode === 'whole' ? 'whole' : `${c.batch / c.micro} × ${c.micro}`,
        fmt(ms[mode]),
        fmt((3 * c.batch * 1000) / ms[mode], 0),
        fmt(peak[mode] / 2 ** 20),
        mode === 'whole' ? '1' : `**${fmt(ms.whole / ms.micro, 2)}** speed, **${fmt(peak.micro / peak.whole, 2)}** memory`,
        times[mode].length,
      ]);
    }
    notes.push(`${c.model} ${fmt(ms.whole / ms.micro, 2)}× speed at ${fmt(peak.micro / peak.whole, 2)}× memory`);
  }
  tf.engine().reset();
  const markdown = [
    `A worker's step (one D-gradient on a real and a fake batch, one G-gradient, each read back once) on the ${sel.name}`,
    'backend, run whole and in micro-batches of the stated size: each micro-batch\'s gradient is scaled by its share of',
    'the batch and added to a running sum on the backend, and the sum is read back once (`duel worker --micro-batch N`).',
    'The gradient is the whole batch\'s to float rounding (steps.spec.ts). Working memory is tf.profile\'s peak bytes over',
    'the step less the bytes alive before it (the weights). The two modes alternate, one block of steps each, for the',
    `rounds shown; medians.${quick ? ' **--quick run: one round of one step.**' : ''}`,
    '',
    table(['model', 'batch', 'run as', 'ms / step', 'img/s', 'working memory MiB', 'micro ÷ whole', 'steps timed'], rows),
    '',
    'What it is for: a GPU (or a browser\'s WebGL) with too little memory for a task\'s batch still takes the task, and the',
    'coordinator need not cut the batch into more shards (`--max-batch`) to fit it. What it costs: one add per gradient',
    'tensor and micro-batch into a gradient-size sum that stays alive, and each micro-batch\'s weight gradients are',
    'full-size (a dense layer\'s xᵀ·dy has the weights\' shape whatever the batch). So it pays where activations',
    'outweigh the weights (dcgan\'s conv activations, mlp2d at a large batch) and buys little where the weights dominate',
    '(mlp: 2M parameters, ~8 MB of gradients). On a GPU smaller kernels also use the device less: the kit in tools/device',
    'measures that trade there.',
    '',
    caption(m),
  ].join('\n');
  return { title: '13. Micro-batches: a batch whole vs in micro-batches', markdown, summary: `micro-batches (wasm): ${notes.join('; ')}` };
}
