/**
 * Figure 2: MNIST. `duel local` trains for a stated number of steps; the
 * classifier score (our committed MNIST CNN) is read before training (the
 * run's own initial weights, step 0), after it (the run's JSON summary), and
 * on as many real test images, for scale.
 */
import { ganSpecFor, evaluateQuality, initTrainingState, resolveRunConfig, sampleFrom, samplingWeights } from '@duel/trainer';
import { GanModel } from '@duel/gan';
import { selectNodeBackend } from '@duel/gan-node';
import { isFiniteDataset } from '@duel/datasets';
import { loadDataset } from '@duel/datasets-node';
import { classifierScore } from '@duel/eval';
import { caption, fmt, lastJsonLine, log, spawnDuel, table, type Machine, type Section } from './common';
import type { BackendCell } from './fig-backends';

/** evaluateQuality's default: the classifier score is computed on this many samples. */
const EVAL_IMAGES = 1000;
const SEED = 1;

interface LocalSummary {
  steps: number;
  seconds: number;
  imgsPerSec: number;
  backend: string;
  quality: { kind: string; classifierScore: number; n: number };
}

/** The faster of mlp and dcgan on wasm in figure 1 (ms per step at batch 64), else mlp. */
function pickModel(cells: BackendCell[]): { model: string; why: string } {
  const ms = (model: string) => cells.find((c) => c.backend === 'wasm' && c.model === model && c.batch === 64)?.ms ?? Number.NaN;
  const [mlp, dcgan] = [ms('mlp'), ms('dcgan')];
  if (!Number.isFinite(mlp) || !Number.isFinite(dcgan)) return { model: 'mlp', why: 'figure 1 did not time both on wasm, so the default `mlp`' };
  const model = dcgan < mlp ? 'dcgan' : 'mlp';
  return { model, why: `\`${model}\`: on wasm at batch 64, figure 1 timed mlp at ${fmt(mlp, 0)} ms and dcgan at ${fmt(dcgan, 0)} ms per step` };
}

export async function mnistFigure(m: Machine, quick: boolean, cells: BackendCell[]): Promise<Section> {
  const steps = quick ? 20 : 300;
  const { model, why } = pickModel(cells);
  const cfg = resolveRunConfig({ dataset: 'mnist', model, steps, seed: SEED });

  // Step 0: the weights `duel local` starts from (same config, same seed), scored the way it scores its end.
  await selectNodeBackend('wasm');
  const test = await loadDataset('mnist', { split: 'test' });
  if (!isFiniteDataset(test)) throw new Error('mnist test split is not a finite dataset');
  const gan = new GanModel(ganSpecFor(cfg));
  const state = initTrainingState(cfg, gan.layout);
  const before = await evaluateQuality({ sample: (n, seed) => sampleFrom(gan, samplingWeights(state), n, seed) }, test, EVAL_IMAGES);
  gan.dispose();
  const real = await classifierScore(test.gather(Array.from({ length: EVAL_IMAGES }, (_, i) => i)));
  log(`mnist: step 0 score ${before.kind === 'image' ? fmt(before.classifierScore, 2) : '?'}, real test ${fmt(real, 2)}; training ${model} for ${steps} steps`);

  const args = ['local', '--dataset', 'mnist', '--model', model, '--steps', String(steps), '--seed', String(SEED), '--backend', 'wasm', '--json'];
  const after = await lastJsonLine<LocalSummary>(spawnDuel(args), 'duel local (mnist)');
  log(`mnist: after ${after.steps} steps score ${fmt(after.quality.classifierScore, 2)} (${fmt(after.seconds)} s)`);

  const score0 = before.kind === 'image' ? before.classifierScore : Number.NaN;
  const rows = [
    ['G at step 0 (initial weights)', 0, fmt(score0, 2)],
    [`G after \`duel local\`, ${model}`, after.steps, `**${fmt(after.quality.classifierScore, 2)}**`],
    [`real MNIST test images (first ${EVAL_IMAGES})`, '—', fmt(real, 2)],
  ];
  const markdown = [
    `\`duel local --dataset mnist --model ${model} --steps ${steps} --seed ${SEED} --backend wasm --json\` (batch ${cfg.batchSize},`,
    `lr ${cfg.lrD}/${cfg.lrG}, Adam β1 ${cfg.beta1}). Model: ${why}.`,
    `Classifier score = exp(E_x KL(p(y|x) ‖ p(y))) with the committed MNIST CNN, on ${EVAL_IMAGES} images each (evaluateQuality's`,
    'default, seed 0x5eed); the maximum is 10. The step-0 row scores the very weights the run starts from.',
    `${quick ? '**--quick: a few steps only; the score after training is not meaningful yet.**' : ''}`,
    '',
    table(['images', 'training steps', 'classifier score'], rows),
    '',
    `Training took ${fmt(after.seconds)} s (${fmt(after.imgsPerSec, 0)} img/s, excluding start-up). Score ratio after ÷ before: ${fmt(after.quality.classifierScore / score0, 2)}; after ÷ real: ${fmt(after.quality.classifierScore / real, 2)}.`,
    '',
    caption(m),
  ].join('\n');
  return {
    title: '2. MNIST: classifier score before and after training',
    markdown,
    summary: `mnist (${model}, ${after.steps} steps): score ${fmt(score0, 2)} → ${fmt(after.quality.classifierScore, 2)} (real ${fmt(real, 2)})`,
  };
}
