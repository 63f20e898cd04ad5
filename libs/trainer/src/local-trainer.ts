import { createShardSampler, type Dataset, type ShardSampler } from '@duel/datasets';
import { GanModel, microBatchProblem, type GradientResult, type Net } from '@duel/gan';
import { createStrategyFromSpec, type AggregationStrategy } from '@duel/aggregation';
import { DuelError, ErrorCodes, type NamedWeights } from '@duel/util';
import { ganSpecFor, topKShare, type RunConfig } from './run-config';
import { executeTask, planTasks, taskSeed, type TaskSpec } from './task';
import { applyGradients, initTrainingState, samplingWeights, type TrainingState } from './training-state';

export interface StepMetrics {
  step: number;
  dLoss: number;
  gLoss: number;
  /** Mean D(x) over the step's last D-update. */
  dReal: number;
  /** Mean D(G(z)) seen by the G-update. */
  dFake: number;
  /** Samples processed in this step (real + fake over all updates). */
  samples: number;
}

export interface LocalTrainerOptions {
  /**
   * Simulated shards: each update's batch is split into this many slices whose
   * gradients are averaged by sample count, exactly as the coordinator does
   * with that many workers. 1 (default) is plain single-process training.
   */
  numShards?: number;
  /**
   * How shard gradients are combined, as a strategy spec (`mean`, or e.g.
   * `trimmed-mean:beta=0.3:screen=10`): the coordinator's default is `mean`.
   * Lets a robust strategy's cost in quality be measured without workers;
   * an AggregationStrategy object is used as given.
   */
  strategy?: string | AggregationStrategy;
  /**
   * FOR TESTS AND DEFENCE EXPERIMENTS ONLY: replaces a shard's gradient before
   * aggregation, as a Byzantine worker holding that shard would (`duel local
   * --attackers`). Gets the task, its z seed and every shard's honest
   * gradient of the update (what colluders are assumed to know); returns the
   * gradient to aggregate, or null to leave the shard honest.
   */
  tamper?: (task: TaskSpec, seed: number, honest: readonly NamedWeights[]) => NamedWeights | null;
  /**
   * The most samples run through the nets at once (StepOptions.microBatch), as
   * `duel worker --micro-batch`: a larger shard batch runs in micro-batches whose
   * gradients are summed, the same gradient to float rounding in less memory.
   * A positive multiple of the pack; absent, every batch runs whole.
   */
  microBatch?: number;
}

/**
 * The single-process reference trainer: the same step functions, the same
 * task plan and the same server-side Adam as the distributed run, with the
 * network hop removed.
 */
export class LocalTrainer {
  readonly model: GanModel;
  readonly state: TrainingState;
  private readonly samplers: ShardSampler[];
  private readonly numShards: number;
  /** The coordinator's default strategy unless told otherwise, so both sides combine shards with the same arithmetic. */
  private readonly strategy: AggregationStrategy;
  private readonly tamper: LocalTrainerOptions['tamper'];
  private readonly microBatch: number | undefined;

  constructor(
    readonly cfg: RunConfig,
    readonly dataset: Dataset,
    opts: LocalTrainerOptions = {},
  ) {
    const spec = ganSpecFor(cfg);
    const problem = opts.microBatch === undefined ? null : microBatchProblem(spec, opts.microBatch);
    // Refused here, once, rather than by the first step.
    if (problem) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `micro-batch ${problem}`);
    this.microBatch = opts.microBatch;
    this.model = new GanModel(spec);
    this.state = initTrainingState(cfg, this.model.layout);
    this.numShards = opts.numShards ?? 1;
    this.strategy = typeof opts.strategy === 'object' ? opts.strategy : createStrategyFromSpec(opts.strategy ?? 'mean');
    this.tamper = opts.tamper;
    this.samplers = Array.from({ length: this.numShards }, (_, shard) =>
      createShardSampler(dataset, { seed: cfg.seed, shard, numShards: this.numShards }),
    );
  }

  get done(): boolean {
    return this.state.step >= this.cfg.steps;
  }

  /** One training step: k D-updates, then one G-update. */
  async step(): Promise<StepMetrics> {
    const step = this.state.step + 1;
    const { k } = this.cfg;
    let samples = 0;
    let d: UpdateResult = { loss: NaN, dReal: NaN, dFake: NaN, samples: 0 };
    for (let sub = 0; sub < k; sub++) {
      d = await this.update('D', step, sub);
      samples += d.samples;
    }
    const g = await this.update('G', step, 0);
    samples += g.samples;
    return { step, dLoss: d.loss, gLoss: g.loss, dReal: d.dReal, dFake: g.dFake, samples };
  }

  private async update(net: Net, step: number, sub: number): Promise<UpdateResult> {
    const { weights } = this.state;
    this.model.setWeights('G', weights.G);
    this.model.setWeights('D', weights.D);
    const tasks = planTasks(this.cfg, net, step, sub, this.numShards);
    const results: GradientResult[] = [];
    const topK = net === 'G' ? topKShare(this.cfg, step) : 1;
    for (const task of tasks) results.push(await executeTask(this.model, this.cfg, task, this.samplers[task.shard], undefined, topK, undefined, this.microBatch));
    const honest = results.map((r) => r.grads);
    const sent = this.tamper ? tasks.map((t, i) => this.tamper!(t, taskSeed(this.cfg.seed, t), honest) ?? honest[i]) : honest;
    const outcome = this.strategy.aggregate(
      sent.map((grads, i) => ({ workerId: `shard-${i}`, grads, samples: tasks[i].batch })),
      [],
    );
    if (!outcome) throw new DuelError(ErrorCodes.NON_FINITE, `step ${step}: every ${net} gradient was rejected (${this.strategy.lastRejected.map((r) => r.code).join(', ')})`);
    applyGradients(this.state, this.cfg, net, outcome.grads, step);
    return summarise(results);
  }

  /** n samples from the sampling G (the EMA when enabled), flat [n, ...dataShape]. */
  async sample(n: number, seed: number): Promise<Float32Array> {
    return sampleFrom(this.model, samplingWeights(this.state), n, seed);
  }

  dispose(): void {
    this.model.dispose();
  }
}

interface UpdateResult {
  loss: number;
  dReal: number;
  dFake: number;
  samples: number;
}

/** Sample-weighted means of the per-shard stats. */
export function summarise(results: readonly GradientResult[]): UpdateResult {
  let n = 0;
  let loss = 0;
  let dReal = 0;
  let dFake = 0;
  for (const { stats } of results) {
    n += stats.samples;
    loss += stats.loss * stats.samples;
    dReal += stats.dReal * stats.samples;
    dFake += stats.dFake * stats.samples;
  }
  return { loss: loss / n, dReal: dReal / n, dFake: dFake / n, samples: n };
}

/** Samples from the given G weights on a model (its G tensors are replaced). */
export async function sampleFrom(model: GanModel, g: NamedWeights, n: number, seed: number): Promise<Float32Array> {
  model.setWeights('G', g);
  return model.sample(n, seed);
}
