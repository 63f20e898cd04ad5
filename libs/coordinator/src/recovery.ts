import { Logger, type DynamicModule, type Provider } from '@nestjs/common';
import { ganSpecFor } from '@duel/trainer';
import { ganLayout } from '@duel/gan';
import { createStateStore, type LoadedCheckpoint } from '@duel/store';
import { DuelError, ErrorCodes } from '@duel/util';
import { trainingStateOf, type CoordinatorCheckpointMeta } from './checkpoint-mapping';
import type { CoordinatorOptions } from './coordinator.options';
import { STORE_HEALTH } from './health.controller';
import { RECOVERY, type Recovery } from './recovery.token';

export { RECOVERY, type Recovery } from './recovery.token';

const log = new Logger('Recovery');

/**
 * Opens the store and, when asked (`resume: true`) or when the store holds a
 * running run (`resume: 'auto'`), loads its newest good checkpoint. The run
 * config of the checkpoint wins over the flags (it is the run being resumed),
 * so `opts.run`, `mode` and `shards` are set from it. A corrupt newer
 * checkpoint is refused (logged with its code) and an older good one used.
 */
export async function prepareRecovery(opts: CoordinatorOptions): Promise<Recovery> {
  const store = createStateStore(opts.store ?? {});
  await store.open();
  const want = opts.resume ?? false;
  let loaded: LoadedCheckpoint<CoordinatorCheckpointMeta> | null = null;
  if (want === true) {
    loaded = await store.loadCheckpoint<CoordinatorCheckpointMeta>();
    if (!loaded) {
      await store.close();
      throw new DuelError(ErrorCodes.CHECKPOINT_MISSING, `--resume: no good checkpoint in ${store.location}`);
    }
  } else if (want === 'auto') {
    const run = await store.loadRun();
    if (run?.status === 'running') {
      loaded = await store.loadCheckpoint<CoordinatorCheckpointMeta>();
      if (!loaded) log.warn(`the store holds running run ${run.runId} but no good checkpoint; starting a fresh run`);
    }
  }
  for (const r of loaded?.refused ?? []) log.error(`refused checkpoint ${r.id}: ${r.message}`);
  if (!loaded) return { store, resumed: null };
  const meta = loaded.data.meta;
  opts.run = meta.run;
  opts.mode = meta.mode;
  opts.shards = meta.shards;
  const state = trainingStateOf(loaded.data, ganLayout(ganSpecFor(meta.run)));
  // The charts' history is a convenience: a store that cannot give it back does not stop the resume.
  const history = await store.metricsHistory().catch((e: Error) => {
    log.warn(`the metrics history was not read back: ${e.message}`);
    return [];
  });
  log.log(`resuming run ${meta.runId} from ${loaded.ref.id}: step ${meta.step}, next ${meta.next.phase}${meta.next.sub} of step ${meta.next.step}`);
  return { store, resumed: { runId: meta.runId, state, meta, checkpointId: loaded.ref.id, refused: loaded.refused, history } };
}

/** Adds the recovery providers to the coordinator module; the store becomes the /readyz store probe. */
export function withRecovery(mod: DynamicModule, recovery: Recovery, extra: { providers: Provider[]; controllers: DynamicModule['controllers'] }): DynamicModule {
  const providers = (mod.providers ?? []).filter((p) => !(typeof p === 'object' && 'provide' in p && p.provide === STORE_HEALTH));
  return {
    ...mod,
    controllers: [...(mod.controllers ?? []), ...(extra.controllers ?? [])],
    providers: [...providers, { provide: RECOVERY, useValue: recovery }, { provide: STORE_HEALTH, useValue: recovery.store }, ...extra.providers],
  };
}
