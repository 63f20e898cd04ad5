/**
 * How far apart honest replicas of one task land on different tfjs backends
 * (not a test): the measurement behind DEFAULT_VALIDATION_TOLERANCE
 * (libs/rounds/src/validation.ts). It trains a few steps on cpu to get
 * non-initial weights, then computes the same D and G tasks (same weights,
 * seed, shard, batch) on every backend that works here and prints the
 * relative L2 distance of each pair, with the attacks' distances beside them.
 *
 *   node --import tsx tools/backends/replica-distance.ts [ring8|mnist] [cpu,wasm,webgpu] [warmSteps]
 *
 * Measured here (2026-11, no GPU): cpu vs wasm 1.0e-7 to 2.4e-7 (ring8/mlp2d after 20 steps),
 * 2.2e-7 (mnist/mlp). The same tasks run in headless Chromium (SwiftShader, WebGL 2, float32
 * textures; a throwaway page, not kept): cpu vs webgl 1.0e-7 to 3.5e-7, and with
 * WEBGL_FORCE_F16_TEXTURES 4.6e-4 to 1.0e-2. Tampering: sign flip 2, ×100 0.99, ×1.01 9.9e-3.
 */
import { resolveDataset } from '@duel/datasets';
import { nodeDatasetLoader } from '@duel/datasets-node';
import { createShardSampler } from '@duel/datasets';
import { GanModel, tf, type ConcreteBackendName } from '@duel/gan';
import { releaseNodeWebGpu, selectNodeBackend } from '@duel/gan-node';
import { gradientDistance } from '@duel/rounds';
import { executeTask, ganSpecFor, LocalTrainer, planTasks, resolveRunConfig, type TaskSpec } from '@duel/trainer';
import { cloneWeights, type NamedWeights } from '@duel/util';

async function main(): Promise<void> {
  const [dataset = 'ring8', list = 'cpu,wasm,webgpu', warm = '20'] = process.argv.slice(2);
  const cfg = resolveRunConfig({ dataset, seed: 3, steps: Number(warm), batchSize: 64, ...(dataset === 'ring8' ? {} : { model: 'mlp' }) });
  const data = await resolveDataset(dataset, nodeDatasetLoader());
  await selectNodeBackend('cpu');
  const trainer = new LocalTrainer(cfg, data);
  while (!trainer.done) await trainer.step();
  const weights = { G: cloneWeights(trainer.state.weights.G), D: cloneWeights(trainer.state.weights.D) };
  trainer.dispose();
  const step = cfg.steps + 1;
  const tasks: TaskSpec[] = [...planTasks(cfg, 'D', step, 0, 2), ...planTasks(cfg, 'G', step, 0, 2)];

  const grads: Record<string, NamedWeights[]> = {};
  for (const name of list.split(',') as ConcreteBackendName[]) {
    const sel = await selectNodeBackend(name).catch((e: Error) => e);
    if (sel instanceof Error) {
      process.stdout.write(`${name}: unavailable (${sel.message.slice(0, 120)})\n`);
      continue;
    }
    const model = new GanModel(ganSpecFor(cfg));
    model.setWeights('G', weights.G);
    model.setWeights('D', weights.D);
    const out: NamedWeights[] = [];
    for (const t of tasks) {
      const sampler = t.phase === 'D' ? createShardSampler(data, { seed: cfg.seed, shard: t.shard, numShards: t.numShards }) : null;
      out.push((await executeTask(model, cfg, t, sampler)).grads);
    }
    model.dispose();
    grads[`${name} (${sel.device})`] = out;
  }
  const names = Object.keys(grads);
  process.stdout.write(`${dataset}/${cfg.model} after ${cfg.steps} cpu steps, batch ${cfg.batchSize} in 2 shards; relative L2 distance per task\n`);
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const d = tasks.map((t, k) => `${t.phase}${t.shard}=${gradientDistance(grads[names[i]][k], grads[names[j]][k]).toExponential(2)}`);
      process.stdout.write(`  ${names[i]} vs ${names[j]}: ${d.join('  ')}\n`);
    }
  }
  // What tampering looks like at the same scale (attack-math.ts's signflip and ×100, and a 1% scale-up).
  const ref = grads[names[0]];
  const scaled = (g: NamedWeights, s: number) => g.map((t) => ({ ...t, data: t.data.map((v) => v * s) }));
  const worst = (s: number) => Math.min(...ref.map((g) => gradientDistance(g, scaled(g, s))));
  process.stdout.write(`  tampered (smallest over tasks): signflip ${worst(-1).toExponential(2)}  x100 ${worst(100).toExponential(2)}  x1.01 ${worst(1.01).toExponential(2)}\n`);
  if (names.some((n) => n.startsWith('webgpu'))) releaseNodeWebGpu();
  tf.disposeVariables();
}

void main();
