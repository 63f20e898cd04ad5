import { adamStateFromJSON, adoptWeights, type AdamState } from '@duel/aggregation';
import type { GanLayout, Net } from '@duel/gan';
import type { AsyncRetry, ResolvedOutcome, StartPosition } from '@duel/rounds';
import type { CheckpointData, CheckpointMeta } from '@duel/store';
import type { RunConfig, TrainingState } from '@duel/trainer';
import { assertLayout, DuelError, ErrorCodes, type NamedWeights } from '@duel/util';

export const CHECKPOINT_KIND = 'duel-coordinator/1';

/** The coordinator's checkpoint metadata: everything but the tensors. */
export interface CoordinatorCheckpointMeta extends CheckpointMeta {
  kind: typeof CHECKPOINT_KIND;
  run: RunConfig;
  mode: 'sync' | 'async';
  shards: number | 'auto';
  versions: Record<Net, number>;
  /** Where the round machine resumes: the open (abandoned) or next update. */
  next: StartPosition;
  /** Outcomes of recently resolved tasks, so copies of applied results stay duplicates. */
  resolved: [string, ResolvedOutcome][];
  /**
   * Async: the positions issued but not applied at the checkpoint (attempts in
   * flight, positions waiting to be issued again), which the resumed machine
   * issues again first (createRoundState's `restored.pending`). Absent in
   * sync checkpoints and in checkpoints written before it existed.
   */
  pending?: AsyncRetry[];
  adam: Record<Net, { t: number; accBeta1: number; accBeta2: number }>;
  /**
   * The coordinator draws no random numbers of its own on the training path:
   * every task's z and real batch derive from (run seed, step, sub, shard)
   * (taskSeed, deriveSeed). So the run seed and `next` are the whole RNG state.
   */
  rng: { runSeed: number; derivation: 'taskSeed(seed, step, phase, sub, shard)' };
  /** Results applied over the run's lifetime up to this checkpoint (exactly-once accounting). */
  appliedResults: number;
  /**
   * The random key of resume tokens (WorkerIdentity), base64url, so workers keep
   * their ids across a restart; absent when it derives from DUEL_SESSION_SECRET.
   * A secret: never shown by an HTTP answer or a log line.
   */
  resumeKey?: string;
}

/**
 * A deep copy of the training state as a checkpoint; later updates do not
 * change it. Tensor names: `w/<net>/…`, `m/<net>/…`, `v/<net>/…`, `ema/…`.
 */
export function checkpointOf(
  runId: string,
  state: TrainingState,
  cfg: { run: RunConfig; mode: 'sync' | 'async'; shards: number | 'auto'; resumeKey?: string },
  position: { next: StartPosition; resolved: [string, ResolvedOutcome][]; pending?: AsyncRetry[] },
  appliedResults: number,
  now = Date.now(),
): CheckpointData<CoordinatorCheckpointMeta> {
  const tensors: NamedWeights = [];
  const add = (prefix: string, ws: NamedWeights) => {
    for (const w of ws) tensors.push({ name: `${prefix}/${w.name}`, shape: [...w.shape], data: new Float32Array(w.data) });
  };
  for (const net of ['G', 'D'] as const) {
    add(`w/${net}`, state.weights[net]);
    add(`m/${net}`, state.adam[net].m);
    add(`v/${net}`, state.adam[net].v);
  }
  if (state.gEma) add('ema', state.gEma);
  const adamMeta = (a: AdamState) => ({ t: a.t, accBeta1: a.accBeta1, accBeta2: a.accBeta2 });
  return {
    meta: {
      kind: CHECKPOINT_KIND,
      runId,
      step: state.step,
      createdAt: now,
      run: cfg.run,
      mode: cfg.mode,
      shards: cfg.shards,
      versions: { ...state.versions },
      next: { ...position.next, versions: { ...position.next.versions } },
      resolved: position.resolved,
      ...(position.pending === undefined ? {} : { pending: position.pending.map((p) => ({ pos: { ...p.pos }, attempt: p.attempt })) }),
      adam: { G: adamMeta(state.adam.G), D: adamMeta(state.adam.D) },
      rng: { runSeed: cfg.run.seed, derivation: 'taskSeed(seed, step, phase, sub, shard)' },
      appliedResults,
      ...(cfg.resumeKey === undefined ? {} : { resumeKey: cfg.resumeKey }),
    },
    tensors,
  };
}

/** Rebuilds the training state from a checkpoint; anything that does not fit the layout is DUEL_ERR_CHECKPOINT_MISMATCH. */
export function trainingStateOf(cp: CheckpointData<CoordinatorCheckpointMeta>, layout: GanLayout): TrainingState {
  const m = cp.meta;
  const mismatch = (why: string): never => {
    throw new DuelError(ErrorCodes.CHECKPOINT_MISMATCH, `checkpoint of run ${m.runId} at step ${m.step}: ${why}`);
  };
  if (m.kind !== CHECKPOINT_KIND) mismatch(`kind "${String(m.kind)}", expected ${CHECKPOINT_KIND}`);
  const group = (prefix: string): NamedWeights =>
    cp.tensors.filter((t) => t.name.startsWith(`${prefix}/`)).map((t) => ({ ...t, name: t.name.slice(prefix.length + 1) }));
  try {
    const net = (n: Net) => {
      const weights = group(`w/${n}`);
      assertLayout(weights, layout[n], `${n} weights`);
      const adam = adamStateFromJSON({ ...m.adam[n], m: group(`m/${n}`), v: group(`v/${n}`) }, layout[n]);
      return { weights: adoptWeights(adam, weights), adam };
    };
    const G = net('G');
    const D = net('D');
    const ema = group('ema');
    if (ema.length) assertLayout(ema, layout.G, 'G EMA');
    if (m.versions.G !== m.next.versions.g || m.versions.D !== m.next.versions.d) mismatch('versions disagree with the resume position');
    return {
      step: m.step,
      versions: { G: m.versions.G, D: m.versions.D },
      weights: { G: G.weights, D: D.weights },
      adam: { G: G.adam, D: D.adam },
      gEma: ema.length ? ema : null,
    };
  } catch (e) {
    if (e instanceof DuelError && e.code === ErrorCodes.CHECKPOINT_MISMATCH) throw e;
    return mismatch((e as Error).message);
  }
}
