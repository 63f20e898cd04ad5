/**
 * Figure 12 (the MNIST half of P4): the quality MNIST reaches with each
 * gradient codec. One `duel train --dataset mnist --workers 2 --codec C`
 * per codec (the real CLI: a coordinator and two worker processes), same
 * seed and steps, and the classifier score of its JSON summary. The bytes
 * per update of these codecs on the `mlp` layout are figure 7's exact frame
 * sizes (mlp rows); this figure adds what training with them reaches.
 */
import { resolveRunConfig } from '@duel/trainer';
import { caption, fmt, lastJsonLine, log, spawnDuel, table, type Machine, type Section } from './common';
import { stepFrameRatio } from './fig-wire';

const CODECS = ['fp32', 'fp16', 'int8', 'topk:0.1'];
const WORKERS = 2;
const SEED = 1;
/** A codec keeps the MNIST bar when its score is at least this share of fp32's at the same step (and the same seed). */
const KEEP = 0.9;

interface TrainSummary {
  steps: number;
  seconds: number;
  imgsPerSec: number;
  weightsDigest: string;
  quality: { kind: string; classifierScore: number; n: number };
}

/** Steps per codec run: 1500 (the mlp scores 1.0 until ~800 steps, figure 2), DUEL_BENCH_MNIST_CODEC_STEPS overrides. */
function codecSteps(quick: boolean): number {
  const env = process.env.DUEL_BENCH_MNIST_CODEC_STEPS;
  return env !== undefined && env !== '' ? Number(env) : quick ? 20 : 1500;
}

export async function mnistCodecFigure(m: Machine, quick: boolean): Promise<Section> {
  const steps = codecSteps(quick);
  const cfg = resolveRunConfig({ dataset: 'mnist', steps, seed: SEED });
  const runs: { codec: string; s: TrainSummary }[] = [];
  for (const codec of CODECS) {
    const args = ['train', '--dataset', 'mnist', '--workers', String(WORKERS), '--codec', codec, '--steps', String(steps), '--seed', String(SEED), '--json'];
    const s = await lastJsonLine<TrainSummary>(spawnDuel(args), `duel train (mnist, ${codec})`);
    if (s.quality.kind !== 'image') throw new Error(`duel train (mnist, ${codec}) reported no classifier score`);
    log(`mnist codecs: ${codec} score ${fmt(s.quality.classifierScore, 2)} after ${s.steps} steps (${fmt(s.seconds)} s)`);
    runs.push({ codec, s });
  }
  const ref = runs[0].s.quality.classifierScore;
  const kept = (score: number) => score >= KEEP * ref;
  const rows = runs.map(({ codec, s }) => [
    codec,
    s.steps,
    `**${fmt(s.quality.classifierScore, 2)}**`,
    fmt(s.quality.classifierScore / ref, 2),
    kept(s.quality.classifierScore) ? 'yes' : 'no',
    fmt(s.seconds, 0),
    s.weightsDigest.slice(0, 12),
  ]);
  const verdict = runs
    .slice(1)
    .map(({ codec, s }) => `${codec} ${fmt(s.quality.classifierScore / ref, 2)} (${kept(s.quality.classifierScore) ? 'kept' : 'not kept'})`)
    .join('; ');
  const markdown = [
    `\`duel train --dataset mnist --workers ${WORKERS} --codec C --steps ${steps} --seed ${SEED} --json\`: the \`${cfg.model}\` model, batch ${cfg.batchSize}`,
    `(split over ${WORKERS} shards), Adam ${cfg.lrD} / β1 ${cfg.beta1}, wasm workers. The score is the run's own: the classifier score of 1,000`,
    'samples of the final G with the committed MNIST CNN (maximum 10; the real test images score 9.7, figure 2). The bar: at least',
    `${KEEP} × fp32's score at the same step. Bytes per step on the \`${cfg.model}\` layout relative to fp32 (exact frame sizes, as figure 7's):`,
    `${CODECS.slice(1).map((c) => `${c} ${fmt(stepFrameRatio(cfg.model, c), 4)}`).join(', ')}.`,
    `${quick ? '**--quick: 20 steps; the scores are not meaningful.**' : ''}`,
    '',
    table(['codec', 'steps', 'classifier score', 'ratio to fp32', 'bar met', 'run s', 'weights digest'], rows),
    '',
    `Against fp32 (${fmt(ref, 2)}): ${verdict}. The digests differ: a lossy codec changes the gradients, so the runs part ways`,
    'from the first update. Each score is one run of one seed while the score is still climbing fast (figure 2: ~0.6 per 500 steps',
    'at this stage), and the spread between runs is not measured here, so a codec scoring above fp32 says it keeps the bar, not',
    "that it trains better. The run times include the codec's JavaScript encode and decode on both ends, on 2 cores.",
    '',
    caption(m),
  ].join('\n');
  return {
    title: '12. Wire, MNIST: the classifier score reached with each codec (P4)',
    markdown,
    summary: `MNIST score per codec after ${steps} steps: ${runs.map(({ codec, s }) => `${codec} ${fmt(s.quality.classifierScore, 2)}`).join(', ')}`,
  };
}
