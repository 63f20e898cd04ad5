import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { trainingStateOf, type CoordinatorCheckpointMeta } from '@duel/coordinator';
import { ganLayout } from '@duel/gan';
import { CheckpointFiles, createStateStore, type LoadedCheckpoint } from '@duel/store';
import { ganSpecFor, samplingWeights } from '@duel/trainer';
import { DuelError, ErrorCodes } from '@duel/util';
import { parse } from '../args';
import { generatorLayersModel, saveLayersModel } from '../layers-export';

/**
 * `duel export --checkpoint DIR --out DIR`: G of the newest good checkpoint
 * as a tfjs LayersModel (model.json + weights.bin). DIR is a data directory
 * (its checkpoints/ folder is used) or a checkpoints folder; `--redis URL
 * [--store-prefix P]` reads the checkpoint from Redis instead. G is the
 * sampling G: the EMA weights when the run keeps an EMA (`--raw` for the
 * trained weights). A corrupt newer checkpoint is refused (reported on
 * stderr with its code) and the previous good one exported.
 */
export async function exportCommand(argv: string[]): Promise<number> {
  const a = parse(argv, {
    checkpoint: { type: 'string' },
    redis: { type: 'string' },
    'store-prefix': { type: 'string' },
    out: { type: 'string' },
    raw: { type: 'boolean', default: false },
  });
  if (!a.out) throw new DuelError(ErrorCodes.BAD_ARGUMENT, '--out DIR is required');
  if (!a.checkpoint === !a.redis) throw new DuelError(ErrorCodes.BAD_ARGUMENT, 'give exactly one of --checkpoint DIR or --redis URL');
  const loaded = await load(a.checkpoint, a.redis, a['store-prefix']);
  for (const r of loaded.refused) process.stderr.write(`duel export: refused ${r.id}: ${r.message}\n`);
  const meta = loaded.data.meta;
  const spec = ganSpecFor(meta.run);
  const state = trainingStateOf(loaded.data, ganLayout(spec));
  const weights = a.raw ? state.weights.G : samplingWeights(state);
  const model = generatorLayersModel(spec, weights);
  const out = resolve(a.out);
  const files = await saveLayersModel(model, out, { runId: meta.runId, step: meta.step, checkpoint: loaded.ref.id, weights: a.raw || !state.gEma ? 'G' : 'G-EMA', latentDim: spec.latentDim, dataShape: spec.dataShape });
  model.dispose();
  process.stdout.write(`${JSON.stringify({ out, ...files, runId: meta.runId, step: meta.step, checkpoint: loaded.ref.id, refused: loaded.refused.map((r) => r.id), latentDim: spec.latentDim })}\n`);
  return 0;
}

async function load(dir: string | undefined, redis: string | undefined, prefix: string | undefined): Promise<LoadedCheckpoint<CoordinatorCheckpointMeta>> {
  let loaded: LoadedCheckpoint<CoordinatorCheckpointMeta> | null;
  let where: string;
  if (dir) {
    const ckpts = existsSync(join(dir, 'checkpoints')) ? join(dir, 'checkpoints') : dir;
    if (!existsSync(ckpts)) throw new DuelError(ErrorCodes.CHECKPOINT_MISSING, `no such directory: ${ckpts}`);
    where = ckpts;
    loaded = await new CheckpointFiles(ckpts).load<CoordinatorCheckpointMeta>();
  } else {
    const store = createStateStore({ redisUrl: redis, prefix });
    await store.open();
    where = store.location;
    try {
      loaded = await store.loadCheckpoint<CoordinatorCheckpointMeta>();
    } finally {
      await store.close();
    }
  }
  if (!loaded) throw new DuelError(ErrorCodes.CHECKPOINT_MISSING, `no good checkpoint in ${where}`);
  return loaded;
}
