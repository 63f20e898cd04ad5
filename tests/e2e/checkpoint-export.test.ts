import { mkdtemp, readFile, readdir, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultCoordinatorOptions, startCoordinator, trainingStateOf, type CoordinatorCheckpointMeta } from '@duel/coordinator';
import { GanModel, ganLayout, latentBatch, tf } from '@duel/gan';
import { CheckpointFiles } from '@duel/store';
import { ganSpecFor, resolveRunConfig, sampleFrom, samplingWeights, type TrainingState } from '@duel/trainer';
import { weightsDigest as digestOf } from '../../apps/cli/src/digest';
import { runDuel } from '../support/cli';
import { spawnWorkers, type LocalWorkers } from '../support/workers';

/** tf.loadLayersModel through a file IO handler (tfjs-node, which has file://, cannot be installed here). */
async function loadFromDir(dir: string): Promise<tfl.LayersModel> {
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  const bin = await readFile(join(dir, json.weightsManifest[0].paths[0]));
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer;
  return tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }));
}

const weightsDigest = (s: TrainingState) => digestOf(s.weights.G, s.weights.D, s.adam.G.m, s.adam.G.v, s.adam.D.m, s.adam.D.v, s.gEma ?? []);

describe('checkpoint files, duel export, and a corrupt checkpoint at the CLI', () => {
  const dirs: string[] = [];
  let workers: LocalWorkers | undefined;
  afterAll(async () => {
    await workers?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('a torn newest checkpoint is refused and the previous one exported; the exported LayersModel gives the coordinator G on the same z', async () => {
    const data = await mkdtemp(join(tmpdir(), 'duel-export-'));
    const out = await mkdtemp(join(tmpdir(), 'duel-export-out-'));
    dirs.push(data, out);
    const run = resolveRunConfig({ dataset: 'ring8', steps: 8, batchSize: 48, hidden: 16, seed: 3 });
    const c = await startCoordinator(defaultCoordinatorOptions(run, { port: 0, shards: 1, checkpointEvery: 4, store: { dataDir: data } }));
    workers = spawnWorkers(1, c.wsUrl, 'cpu');
    await c.service.whenDone();
    const live = { ...c.service.state, digest: weightsDigest(c.service.state) };
    await c.close();
    await workers.stop();

    // Steps 4 and 8; the newest holds exactly the live state, bit for bit.
    const ckpts = (await readdir(join(data, 'checkpoints'))).filter((f) => f.endsWith('.duel')).sort();
    expect(ckpts).toHaveLength(2);
    const files = new CheckpointFiles(join(data, 'checkpoints'));
    const newest = (await files.load<CoordinatorCheckpointMeta>())!;
    expect(newest.ref.id).toBe(ckpts[1]);
    const layout = ganLayout(ganSpecFor(run));
    expect(weightsDigest(trainingStateOf(newest.data, layout))).toBe(live.digest);
    // Tear the newest file, as a crash mid-write would without the temp + fsync + rename protocol.
    await truncate(join(data, 'checkpoints', ckpts[1]), 1000);
    const previous = (await files.load<CoordinatorCheckpointMeta>())!;
    expect(previous.ref.id).toBe(ckpts[0]);
    // The coordinator's own sampling path (GanModel, libs/gan forwardNet) on the previous checkpoint's G.
    const n = 64;
    const seed = 4242;
    const sampler = new GanModel(ganSpecFor(run));
    const coordinatorG = await sampleFrom(sampler, samplingWeights(trainingStateOf(previous.data, layout)), n, seed);
    sampler.dispose();

    const r = await runDuel(['export', '--checkpoint', data, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/refused ckpt-\d+\.duel: DUEL_ERR_CHECKPOINT_CORRUPT: .*torn or partial/);
    const summary = r.json<{ step: number; checkpoint: string; refused: string[]; latentDim: number }>();
    expect(summary).toMatchObject({ step: 4, checkpoint: ckpts[0], refused: [ckpts[1]] });

    const model = await loadFromDir(out);
    const z = tf.tensor2d(latentBatch(n, summary.latentDim, seed), [n, summary.latentDim]);
    const y = model.predict(z) as tf.Tensor;
    const exported = (await y.data()) as Float32Array;
    expect(y.shape).toEqual([n, 2]);
    let maxDiff = 0;
    for (let i = 0; i < exported.length; i++) maxDiff = Math.max(maxDiff, Math.abs(exported[i] - coordinatorG[i]));
    expect(maxDiff).toBeLessThan(1e-5);
    tf.dispose([z, y]);
    model.dispose();

    // With every checkpoint corrupt, a --resume start refuses rather than training from scratch.
    for (const f of ckpts) await truncate(join(data, 'checkpoints', f), 10);
    await expect(startCoordinator(defaultCoordinatorOptions(run, { port: 0, resume: true, store: { dataDir: data } }))).rejects.toThrow(
      /DUEL_ERR_CHECKPOINT_MISSING: --resume: no good checkpoint/,
    );
  });
});
