import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { createStrategy, type StrategyName } from '@duel/aggregation';
import { GanModel, type GanLayout, type Net } from '@duel/gan';
import {
  PROTOCOL_VERSION,
  WeightsBroadcastCache,
  encodeFrame,
  type HelloFrame,
  type ResultFrame,
  type WelcomeFrame,
} from '@duel/protocol';
import { createRoundState, currentPhase, step as roundStep, type RoundCommand, type RoundConfig, type RoundEvent, type RoundState } from '@duel/rounds';
import {
  applyGradients,
  ganSpecFor,
  initTrainingState,
  samplingWeights,
  sampleFrom,
  evaluateQuality,
  type QualityReport,
  type TrainingState,
} from '@duel/trainer';
import { DuelError, ErrorCodes, Rng, type ErrorCode, type NamedWeights } from '@duel/util';
import { createHash, timingSafeEqual } from 'node:crypto';
import { resolveDataset, type Dataset } from '@duel/datasets';
import { nodeDatasetLoader } from '@duel/datasets-node';
import { COORDINATOR_OPTIONS, type CoordinatorOptions } from './coordinator.options';
import { MetricsService } from './metrics.service';
import { RunRecorder, type WorkerStats } from './run-recorder';
import { WorkerConnections, type Connection } from './worker-connections';

/**
 * The parameter server. It owns the training state (weights, Adam, versions)
 * and feeds events to the pure round machine (@duel/rounds), then carries out
 * the commands it returns: send, apply, broadcast, checkpoint. All decisions
 * are the machine's; this class only performs them.
 */
@Injectable()
export class CoordinatorService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('Coordinator');
  readonly runId: string;
  readonly layout: GanLayout;
  readonly state: TrainingState;
  private rounds!: RoundState;
  private readonly weightsCache = new WeightsBroadcastCache();
  private readonly sampler: GanModel;
  private ticker: NodeJS.Timeout | null = null;
  private nextWorker = 1;
  private completed = false;
  private readonly doneWaiters: (() => void)[] = [];
  readonly recorder: RunRecorder;

  constructor(
    @Inject(COORDINATOR_OPTIONS) readonly opts: CoordinatorOptions,
    @Inject(WorkerConnections) private readonly conns: WorkerConnections,
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {
    const spec = ganSpecFor(opts.run);
    this.sampler = new GanModel(spec);
    this.layout = this.sampler.layout;
    this.state = initTrainingState(opts.run, this.layout);
    this.runId = `run-${opts.run.dataset}-${opts.run.seed}-${Date.now().toString(36)}`;
    this.recorder = new RunRecorder();
  }

  onModuleInit(): void {
    const { run } = this.opts;
    // One strategy serves both phases, so it gets no fixed layout: the codec has
    // already checked every result's tensors against the run's layout for its phase.
    this.rounds = createRoundState({
      mode: this.opts.mode,
      run,
      shards: this.opts.shards,
      staleness: this.opts.staleness,
      taskTimeoutMs: this.opts.taskTimeoutMs,
      quorum: this.opts.quorum,
      checkpointEvery: this.opts.checkpointEvery,
      strategy: createStrategy(this.opts.strategy as StrategyName),
    } satisfies RoundConfig);
    this.ticker = setInterval(() => this.handle({ type: 'Tick', now: Date.now() }), 100);
    this.ticker.unref();
  }

  onModuleDestroy(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.sampler.dispose();
  }

  get done(): boolean {
    return this.completed;
  }

  /** Resolves when the run has completed all its steps. */
  whenDone(): Promise<void> {
    return this.completed ? Promise.resolve() : new Promise((r) => this.doneWaiters.push(r));
  }

  // ---- events from the gateway -------------------------------------------------

  hello(c: Connection, f: HelloFrame): void {
    if (f.protocol !== PROTOCOL_VERSION) {
      throw new DuelError(ErrorCodes.PROTOCOL_VERSION, `coordinator speaks protocol ${PROTOCOL_VERSION}, worker sent ${f.protocol}`);
    }
    if (f.kind === 'node' && this.opts.workerToken && !tokenMatches(f.token, this.opts.workerToken)) {
      throw new DuelError(ErrorCodes.UNAUTHORIZED, 'missing or wrong worker token');
    }
    const workerId = f.resume?.workerId && /^w-[0-9a-z-]{1,40}$/.test(f.resume.workerId) ? f.resume.workerId : this.newWorkerId();
    const previous = this.conns.bind(c, workerId);
    if (previous) {
      this.conns.close(previous, 1000, 'replaced by a reconnect');
      this.handle({ type: 'WorkerLeft', workerId, reason: 'replaced', now: Date.now() });
    }
    c.kind = f.kind;
    c.backend = f.capabilities.backend;
    c.device = f.capabilities.device;
    this.recorder.join(workerId, f.kind, f.capabilities.backend, f.capabilities.device);
    const welcome: WelcomeFrame = {
      t: 'welcome',
      workerId,
      run: {
        id: this.runId,
        dataset: this.opts.run.dataset,
        seed: this.opts.run.seed,
        model: JSON.parse(JSON.stringify(this.sampler.spec)),
        loss: this.opts.run.loss,
        k: this.opts.run.k,
        batchSize: this.opts.run.batchSize,
        mode: this.opts.mode,
        staleness: this.opts.staleness,
      },
      heartbeatMs: this.opts.heartbeatMs,
      versions: { g: this.state.versions.G, d: this.state.versions.D },
    };
    this.conns.sendTo(c, encodeFrame(welcome));
    this.refreshWorkerGauge();
    this.handle({ type: 'WorkerJoined', workerId, kind: f.kind, maxBatch: f.capabilities.maxBatch, now: Date.now() });
  }

  /** Samples claimed by results awaiting their ack, so an applied result credits its worker. */
  private readonly pendingSamples = new Map<string, number>();

  result(c: Connection, f: ResultFrame): void {
    if (!c.workerId || f.workerId !== c.workerId) {
      throw new DuelError(ErrorCodes.BAD_FRAME, `result names worker ${f.workerId} on the connection of ${c.workerId}`);
    }
    if (this.pendingSamples.size > 10_000) this.pendingSamples.clear();
    this.pendingSamples.set(`${c.workerId}/${f.taskId}`, f.stats.samples);
    this.handle({
      type: 'ResultReceived',
      workerId: c.workerId,
      taskId: f.taskId,
      phase: f.phase,
      versions: f.versions,
      grads: f.grads,
      stats: f.stats,
      now: Date.now(),
    });
  }

  workerLeft(c: Connection, reason: string): void {
    if (!c.workerId) return;
    if (this.conns.byId(c.workerId) && this.conns.byId(c.workerId) !== c) return; // already replaced
    this.recorder.leave(c.workerId);
    this.refreshWorkerGauge();
    this.handle({ type: 'WorkerLeft', workerId: c.workerId, reason, now: Date.now() });
  }

  countRejection(c: Connection, code: ErrorCode): void {
    this.metrics.rejections.inc({ code });
    if (c.workerId) this.recorder.rejected(c.workerId, code);
  }

  // ---- the machine -------------------------------------------------------------

  /** Feeds one event to the round machine and carries out its commands. Never throws. */
  handle(event: RoundEvent): void {
    let commands: RoundCommand[];
    try {
      commands = roundStep(this.rounds, event).commands;
    } catch (e) {
      this.log.error(`round machine refused ${event.type}: ${(e as Error).message}`);
      return;
    }
    for (const cmd of commands) {
      try {
        this.execute(cmd);
      } catch (e) {
        this.log.error(`command ${cmd.type} failed: ${(e as Error).stack}`);
      }
    }
  }

  private execute(cmd: RoundCommand): void {
    switch (cmd.type) {
      case 'SendTask': {
        const { task } = cmd;
        // Task ids end in the attempt number ("3.D0.1.0"): anything but .0 is a reassigned shard.
        this.metrics.tasksSent.inc({ phase: task.phase, attempt: task.taskId.endsWith('.0') ? 'first' : 'retry' });
        this.conns.send(
          cmd.workerId,
          encodeFrame({
            t: 'task',
            taskId: task.taskId,
            phase: task.phase,
            versions: task.versions,
            step: task.step,
            sub: task.sub,
            shard: { index: task.shard, count: task.numShards },
            batchSize: task.batch,
            seed: task.seed,
            deadlineMs: task.deadlineMs,
          }),
        );
        return;
      }
      case 'SendWeights':
        this.conns.send(cmd.workerId, this.encodedWeights(cmd.net));
        return;
      case 'BroadcastWeights':
        this.conns.broadcast(this.encodedWeights(cmd.net));
        return;
      case 'Ack': {
        this.conns.send(cmd.workerId, encodeFrame({ t: 'ack', taskId: cmd.taskId, status: cmd.status, ...(cmd.code ? { code: cmd.code } : {}) }));
        this.metrics.results.inc({ status: cmd.status, code: cmd.code ?? '' });
        this.recorder.ack(cmd.workerId, cmd.status, cmd.code);
        const key = `${cmd.workerId}/${cmd.taskId}`;
        if (cmd.status === 'applied') this.recorder.contributed(cmd.workerId, this.pendingSamples.get(key) ?? 0);
        this.pendingSamples.delete(key);
        return;
      }
      case 'ApplyUpdate':
        return this.apply(cmd.net, cmd.grads, cmd.step, cmd.scale ?? 1);
      case 'UpdateMetrics':
        this.recorder.metrics(cmd);
        if (cmd.phase === 'D') {
          this.metrics.loss.set({ net: 'D' }, cmd.loss);
          this.metrics.dReal.set(cmd.dReal);
        } else {
          this.metrics.loss.set({ net: 'G' }, cmd.loss);
          this.metrics.dFake.set(cmd.dFake);
        }
        this.metrics.samples.inc(cmd.samples);
        return;
      case 'Wait':
        this.conns.send(cmd.workerId, encodeFrame({ t: 'wait', reason: cmd.reason, retryAfterMs: cmd.retryAfterMs, reconnect: false }));
        return;
      case 'Checkpoint':
        return;
      case 'RunComplete':
        this.completed = true;
        this.log.log(`run complete at step ${cmd.step}`);
        for (const w of this.doneWaiters.splice(0)) w();
        return;
    }
  }

  private apply(net: Net, grads: NamedWeights, step: number, scale: number): void {
    const t0 = performance.now();
    applyGradients(this.state, this.opts.run, net, grads, step, scale);
    this.metrics.aggregationSeconds.observe((performance.now() - t0) / 1000);
    this.metrics.rounds.inc({ phase: net });
    this.metrics.step.set(this.state.step);
    this.metrics.version.set({ net }, this.state.versions[net]);
    this.recorder.step(this.state.step);
  }

  private encodedWeights(net: Net): Uint8Array {
    return this.weightsCache.get(net, this.state.versions[net], () => this.state.weights[net]).bytes;
  }

  private newWorkerId(): string {
    return `w-${(this.nextWorker++).toString(36)}-${new Rng(Date.now() ^ this.nextWorker).nextUint32().toString(36)}`;
  }

  private refreshWorkerGauge(): void {
    this.metrics.workers.reset();
    for (const c of this.conns.workers()) this.metrics.workers.inc({ kind: c.kind ?? 'unknown', backend: c.backend || 'unknown' });
  }

  // ---- quality -------------------------------------------------------------------

  quality: QualityReport | null = null;
  readonly qualityHistory: ({ step: number; t: number } & QualityReport)[] = [];
  private evaluating: Promise<QualityReport> | null = null;

  /** Evaluates the current sampling G on the run's dataset (one evaluation at a time). */
  evaluate(): Promise<QualityReport> {
    if (this.evaluating) return this.evaluating;
    const step = this.state.step;
    this.evaluating = (async () => {
      const dataset = await this.dataset();
      const report = await evaluateQuality({ sample: (n, seed) => this.samples(n, seed) }, dataset);
      this.quality = report;
      this.qualityHistory.push({ step, t: Date.now(), ...report });
      return report;
    })().finally(() => {
      this.evaluating = null;
    });
    return this.evaluating;
  }

  private datasetPromise: Promise<Dataset> | null = null;
  private dataset(): Promise<Dataset> {
    this.datasetPromise ??= resolveDataset(this.opts.run.dataset, nodeDatasetLoader());
    return this.datasetPromise;
  }

  // ---- reads for the HTTP API ------------------------------------------------------

  phase(): string {
    return this.rounds ? currentPhase(this.rounds) : 'D';
  }

  runState(): 'waiting' | 'training' | 'complete' {
    if (this.completed) return 'complete';
    return this.conns.workers().length > 0 ? 'training' : 'waiting';
  }

  layoutDataShape(): number[] {
    return [...this.sampler.spec.dataShape];
  }

  async samples(n: number, seed: number): Promise<Float32Array> {
    return sampleFrom(this.sampler, samplingWeights(this.state), n, seed);
  }

  workerStats(): WorkerStats[] {
    return this.recorder.workers(this.conns.workers().map((c) => c.workerId!));
  }
}

/** Constant-time token comparison (hashing first equalises the lengths). */
function tokenMatches(given: string | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
