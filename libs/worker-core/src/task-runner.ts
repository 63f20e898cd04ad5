import { createShardSampler, sampleSize, type Dataset, type ShardSampler } from '@duel/datasets';
import { dataSize, discriminatorRealPart, GanModel, ganLosses, generatorForwardPart, microBatchProblem, wholeBatchOnly, type GanLoss, type GanSpec, type GeneratorPart, type RealPart } from '@duel/gan';
import type { Net, RunInfo, TaskFrame, Versions } from '@duel/protocol';
import { executeTask, realBatchOf, taskSeed, type TaskSpec } from '@duel/trainer';
import { DuelError, ErrorCodes, type NamedWeights } from '@duel/util';

/** Loads a dataset by registry name; in Node `resolveDataset(name, nodeDatasetLoader())`. */
export type DatasetProvider = (name: string) => Promise<Dataset>;

export interface TaskOutput {
  /** Gradients of the task's net, in its canonical order. */
  grads: NamedWeights;
  loss: number;
  /** Mean D(x) on real packs; NaN for G tasks. */
  dReal: number;
  dFake: number;
  samples: number;
  /** Milliseconds spent on this task before it arrived (a prefetched real half or G(z)); 0 if none. */
  aheadMs: number;
}

/**
 * Work done for the task expected next, and what it read: the real half of a
 * D task reads D only, G(z) for a G task reads G only. New weights of the net
 * it read drop it.
 */
type Ahead = { key: string; net: 'D'; version: number; part: RealPart } | { key: string; net: 'G'; version: number; part: GeneratorPart };

const aheadKey = (phase: Net, step: number, sub: number, shard: number, count: number, batch: number) => `${phase}${step}.${sub}.${shard}/${count}.${batch}`;

/**
 * The worker's compute state for one run: the GanModel built from the run's
 * spec, the dataset, one shard sampler per (shard, numShards), and the weights
 * versions the model holds. It survives reconnects when the run is the same,
 * so a worker that lost its socket does not reload MNIST or rebuild the model.
 */
export class TaskRunner {
  private model: GanModel | null = null;
  private run: RunInfo | null = null;
  private runKey = '';
  private dataset: Dataset | null = null;
  private readonly samplers = new Map<string, ShardSampler>();
  private held: Record<Net, number | null> = { G: null, D: null };
  /** Highest version received per net on the current connection. */
  private floor: Record<Net, number> = { G: -1, D: -1 };
  private ahead: Ahead | null = null;

  /**
   * @param microBatch the most samples this worker runs through the nets at
   *   once (StepOptions.microBatch): a larger task batch runs in micro-batches
   *   whose gradients are summed on the device. Unset: every batch runs whole.
   */
  constructor(
    private readonly loadDataset: DatasetProvider,
    private readonly microBatch?: number,
  ) {}

  /**
   * Makes the runner ready for `run`. Returns true when the previous run's model
   * was kept (same run id, seed, dataset and spec), false when it was rebuilt.
   * @throws DuelError BAD_SPEC (spec or loss invalid, or data shape ≠ dataset shape),
   *   UNKNOWN_DATASET, DATASET_MISSING, DATASET_CORRUPT
   */
  async prepare(run: RunInfo): Promise<boolean> {
    const key = JSON.stringify([run.id, run.seed, run.dataset, run.model]);
    if (this.model && key === this.runKey) {
      this.run = run;
      return true;
    }
    this.reset();
    if (!(ganLosses as readonly string[]).includes(run.loss)) {
      throw new DuelError(ErrorCodes.BAD_SPEC, `unknown loss "${run.loss}"; this worker knows ${ganLosses.join(', ')}`);
    }
    // GanModel's constructor validates the spec end to end (BAD_SPEC).
    const model = new GanModel(run.model as unknown as GanSpec);
    const dataset = this.dataset?.name === run.dataset ? this.dataset : await this.loadDataset(run.dataset);
    if (sampleSize(dataset) !== dataSize(model.spec)) {
      model.dispose();
      throw new DuelError(ErrorCodes.BAD_SPEC, `model ${model.spec.name} makes samples of shape [${model.spec.dataShape}], dataset ${dataset.name} has [${dataset.shape}]`);
    }
    const problem = this.microBatch === undefined ? null : microBatchProblem(model.spec, this.microBatch);
    if (problem) {
      model.dispose();
      // Every task of this run would fail the same way: refuse the run once, with the reason.
      throw new DuelError(ErrorCodes.BAD_SPEC, `this worker's micro-batch ${problem}`);
    }
    this.model = model;
    this.dataset = dataset;
    this.run = run;
    this.runKey = key;
    return false;
  }

  /** Why this worker's micro-batch does not apply to the run's model (it runs every batch whole), or null. */
  get microBatchIgnored(): string | null {
    return this.model && this.microBatch !== undefined ? wholeBatchOnly(this.model.spec) : null;
  }

  get ready(): boolean {
    return this.model !== null;
  }

  /** Weights versions the model holds (null: never received on this run). */
  get versions(): Readonly<Record<Net, number | null>> {
    return this.held;
  }

  /**
   * A new connection: versions may restart lower (a coordinator resumed from an
   * older checkpoint), so the never-go-back rule starts over. The weights held
   * stay, and still serve tasks at their versions.
   */
  beginConnection(): void {
    this.floor = { G: -1, D: -1 };
  }

  /**
   * Uploads one net's weights, unless older than weights already received on
   * this connection (PROTOCOL.md §9: versions never go back; a worker ignores
   * an older frame). Returns whether they were applied.
   * @throws DuelError SHAPE_MISMATCH when they do not fit the run's layout.
   */
  setWeights(net: Net, version: number, tensors: NamedWeights): boolean {
    if (version < this.floor[net]) return false;
    if (this.ahead?.net === net) this.dropAhead();
    this.requireModel().setWeights(net, tensors);
    this.held = { ...this.held, [net]: version };
    this.floor = { ...this.floor, [net]: version };
    return true;
  }

  /**
   * Why this task cannot be computed on the weights held now, or null when it can.
   * Both nets matter: a D gradient needs G(z), a G gradient needs D(G(z)).
   */
  mismatch(want: Versions): string | null {
    const { G, D } = this.held;
    if (G === want.g && D === want.d) return null;
    const fmt = (v: number | null) => (v === null ? 'none' : String(v));
    return `task wants G@${want.g} D@${want.d}, worker holds G@${fmt(G)} D@${fmt(D)}`;
  }

  /**
   * Computes a task's gradient with the trainer's executeTask, so a worker and
   * `duel local` produce the same numbers for the same task: the real batch is
   * the shard sampler's batch at cursor (step, sub), z is drawn from the task's seed.
   */
  async compute(task: TaskFrame): Promise<TaskOutput> {
    const model = this.requireModel();
    const run = this.run!;
    const spec: TaskSpec = {
      phase: task.phase,
      step: task.step,
      sub: task.sub,
      shard: task.shard.index,
      numShards: task.shard.count,
      batch: task.batchSize,
    };
    const sampler = task.phase === 'D' ? this.sampler(task.shard.index, task.shard.count) : null;
    const pre = this.takeAhead(task);
    const { grads, stats } = await executeTask(model, { seed: run.seed, k: run.k, loss: run.loss as GanLoss }, spec, sampler, task.seed, task.topK ?? 1, pre ?? undefined, this.microBatch);
    return { grads, loss: stats.loss, dReal: stats.dReal, dFake: stats.dFake, samples: stats.samples, aheadMs: pre?.ms ?? 0 };
  }

  /**
   * Call after sending a task's result, while the coordinator applies it: in
   * a sync run, computes the part of the task that comes next which does not
   * need the weights that result will change.
   * - After a G task: the real half of the next step's first D task (same
   *   shard). It reads D at the version this G task read, which a G-update
   *   does not change, and the real batch at its cursor; only its fake half
   *   needs the new G.
   * - After a step's last D task: G(z) of that step's G task (same shard and
   *   batch, z from its seed). It reads only G, which a D-update does not
   *   change; D's pass and the backward pass need the new D. Not when the
   *   batch runs in micro-batches (generatorForwardPart).
   * compute() uses the part when the task is that one, with the same seed and
   * the net at that version, and drops it otherwise (a reassigned shard, a
   * resize). The result is bit for bit the same either way (steps.spec.ts),
   * so this only moves work off the round trip: the 1-worker mlp2d step spent
   * about a fifth of its time between tasks (BENCHMARKS.md figure 4).
   */
  prefetchAfter(task: TaskFrame): void {
    this.dropAhead();
    const run = this.run;
    const model = this.model;
    if (!run || !model || run.mode !== 'sync') return;
    const { index: shard, count } = task.shard;
    if (task.phase === 'G') {
      if (this.held.D === null || this.held.D !== task.versions.d) return;
      const next = { phase: 'D' as const, step: task.step + 1, sub: 0, shard, batch: task.batchSize };
      const real = realBatchOf(run, next, this.sampler(shard, count));
      const part = discriminatorRealPart(model, real, { loss: run.loss as GanLoss, microBatch: this.microBatch });
      this.ahead = { key: aheadKey('D', next.step, 0, shard, count, next.batch), net: 'D', version: this.held.D, part };
      return;
    }
    if (task.sub !== run.k - 1 || this.held.G === null || this.held.G !== task.versions.g) return;
    const next = { phase: 'G' as const, step: task.step, sub: 0, shard, batch: task.batchSize };
    // z comes from the task's seed, which the frame carries: this is the seed the coordinator derives for it.
    const part = generatorForwardPart(model, next.batch, taskSeed(run.seed, next), this.microBatch);
    if (part) this.ahead = { key: aheadKey('G', next.step, 0, shard, count, next.batch), net: 'G', version: this.held.G, part };
  }

  private takeAhead(task: TaskFrame): RealPart | GeneratorPart | null {
    const a = this.ahead;
    this.ahead = null;
    if (!a) return null;
    // New weights of the net it read drop the part (setWeights), so a.version is the version held now; the task must name it.
    const fits =
      a.key === aheadKey(task.phase, task.step, task.sub, task.shard.index, task.shard.count, task.batchSize) &&
      (a.net === 'D' ? task.versions.d === a.version : task.versions.g === a.version && task.seed === a.part.zSeed);
    if (fits) return a.part;
    a.part.dispose();
    return null;
  }

  private dropAhead(): void {
    this.ahead?.part.dispose();
    this.ahead = null;
  }

  /** Frees the model's tensors and forgets the run (the dataset stays cached by name). */
  reset(): void {
    this.dropAhead();
    this.model?.dispose();
    this.model = null;
    this.run = null;
    this.runKey = '';
    this.samplers.clear();
    this.held = { G: null, D: null };
    this.floor = { G: -1, D: -1 };
  }

  private sampler(shard: number, numShards: number): ShardSampler {
    const key = `${shard}/${numShards}`;
    let s = this.samplers.get(key);
    if (!s) {
      s = createShardSampler(this.dataset!, { seed: this.run!.seed, shard, numShards });
      this.samplers.set(key, s);
    }
    return s;
  }

  private requireModel(): GanModel {
    if (!this.model) throw new DuelError(ErrorCodes.BAD_FRAME, 'no run yet: weights or task before welcome was handled');
    return this.model;
  }
}
