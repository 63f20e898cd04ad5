import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { createStrategyFromSpec, releaseGradients } from '@duel/aggregation';
import { GanModel, isBackendName, type GanLayout, type Net } from '@duel/gan';
import {
  FP32,
  PROTOCOL_VERSION,
  WeightsBroadcastCache,
  negotiateCodec,
  encodeFrame,
  errorFrameFor,
  type HelloFrame,
  type ResultFrame,
  type WelcomeFrame,
} from '@duel/protocol';
import {
  DEFAULT_VALIDATION_TOLERANCE,
  createRoundState,
  currentPhase,
  step as roundStep,
  type PauseEvent,
  type ReconfigureEvent,
  type ResumeEvent,
  type RoundCommand,
  type RoundConfig,
  type RoundEvent,
  type RoundState,
} from '@duel/rounds';
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
import { resolveDataset, type Dataset } from '@duel/datasets';
import { nodeDatasetLoader } from '@duel/datasets-node';
import { Checkpointer } from './checkpointer';
import { COORDINATOR_OPTIONS, type CoordinatorOptions } from './coordinator.options';
import { RECOVERY, type Recovery } from './recovery.token';
import { MetricsService } from './metrics.service';
import { RunRecorder, type WorkerStats } from './run-recorder';
import { secretEquals, VolunteerSessions } from './volunteer-sessions';
import { WorkerConnections, type Connection } from './worker-connections';
import { WorkerIdentity } from './worker-identity';

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
  /** Its buffers are reused once the sockets' writes of them are done (WorkerConnections leases them). */
  private readonly weightsCache: WeightsBroadcastCache;
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
    @Inject(VolunteerSessions) private readonly sessions: VolunteerSessions,
    @Inject(RECOVERY) private readonly recovery: Recovery,
    @Inject(Checkpointer) private readonly checkpointer: Checkpointer,
    @Inject(WorkerIdentity) private readonly identity: WorkerIdentity,
  ) {
    this.weightsCache = new WeightsBroadcastCache(conns.leases);
    const spec = ganSpecFor(opts.run);
    this.sampler = new GanModel(spec);
    this.layout = this.sampler.layout;
    // A resumed run continues the checkpoint's state and run id (recovery.ts).
    this.state = recovery.resumed?.state ?? initTrainingState(opts.run, this.layout);
    this.runId = recovery.resumed?.runId ?? `run-${opts.run.dataset}-${opts.run.seed}-${Date.now().toString(36)}`;
    this.recorder = new RunRecorder();
    // The charts keep the steps from before the restart (issue #5).
    if (recovery.resumed) this.recorder.restore(recovery.resumed.history, recovery.resumed.meta.step);
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
      checkpointEveryMs: (this.opts.checkpointSecs ?? 0) * 1000,
      start: this.recovery.resumed?.meta.next,
      strategy: this.strategyConfig(),
      ...this.validationConfig(),
    } satisfies RoundConfig, { resolved: this.recovery.resumed?.meta.resolved, pending: this.recovery.resumed?.meta.pending });
    this.metrics.bind({ rounds: () => this.rounds, quality: () => this.quality });
    this.checkpointer.bind({ runId: this.runId, state: this.state, rounds: () => this.rounds, isDone: () => this.done, handle: (e) => this.handle(e), workerStats: () => this.workerStats(), retiredWorkerStats: () => this.recorder.takeRetired(), latestPoint: () => this.recorder.history.at(-1) });
    this.ticker = setInterval(() => this.handle({ type: 'Tick', now: Date.now() }), 100);
    this.ticker.unref();
  }

  /**
   * One strategy for every worker, or one per kind when the volunteers' spec
   * differs: each kind is aggregated apart, and the two results are combined
   * weighted by the samples each used (libs/rounds aggregateResults).
   */
  private strategyConfig(): RoundConfig['strategy'] {
    const node = createStrategyFromSpec(this.opts.strategy);
    const v = this.opts.strategyVolunteer;
    return v === undefined || v === this.opts.strategy ? node : { node, volunteer: createStrategyFromSpec(v) };
  }

  /**
   * Volunteers validated by redundancy. Replicas are compared as received, so a
   * lossy codec (whose error feedback differs from worker to worker) would make
   * honest replicas disagree: refused.
   */
  private validationConfig(): Pick<RoundConfig, 'validation'> {
    const v = this.opts.validation;
    if (!v) return {};
    for (const codec of [this.opts.codec, this.opts.codecVolunteer]) {
      if (codec && codec.name !== 'fp32') {
        throw new DuelError(ErrorCodes.BAD_ARGUMENT, `validation of volunteers needs the fp32 codec, not ${codec.name}: lossy codecs make honest replicas differ`);
      }
    }
    return { validation: { tolerance: v.tolerance ?? DEFAULT_VALIDATION_TOLERANCE, ...(v.replicas === undefined ? {} : { replicas: v.replicas }) } };
  }

  async onModuleDestroy(): Promise<void> {
    // Graceful shutdown (SIGTERM, app.close()): abandon the open round, checkpoint, tell workers to reconnect.
    await this.checkpointer.shutdown();
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
    if (f.kind === 'node' && this.opts.workerToken && !secretEquals(f.token, this.opts.workerToken)) {
      throw new DuelError(ErrorCodes.UNAUTHORIZED, 'missing or wrong worker token');
    }
    if (f.kind === 'volunteer') this.sessions.verify(f.token);
    const workerId = this.claimWorkerId(c, f);
    const previous = this.conns.bind(c, workerId);
    if (previous) {
      this.conns.close(previous, 1000, 'replaced by a reconnect');
      this.handle({ type: 'WorkerLeft', workerId, reason: 'replaced', now: Date.now() });
    }
    c.kind = f.kind;
    c.backend = f.capabilities.backend;
    c.device = f.capabilities.device;
    this.recorder.join(workerId, f.kind, f.capabilities.backend, f.capabilities.device);
    this.log.log({ workerId, kind: f.kind, backend: c.backend, device: c.device, remote: c.remote }, 'worker joined');
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
      // Workers that do not list the requested codec (or any) send fp32 (PROTOCOL.md §3.4).
      codec: negotiateCodec((f.kind === 'volunteer' ? this.opts.codecVolunteer : undefined) ?? this.opts.codec ?? FP32, f.capabilities.codecs),
      resumeToken: this.identity.tokenFor(workerId),
    };
    this.conns.sendTo(c, encodeFrame(welcome));
    this.refreshWorkerGauge();
    this.handle({ type: 'WorkerJoined', workerId, kind: f.kind, maxBatch: f.capabilities.maxBatch, now: Date.now() });
  }

  /**
   * The id a hello gets: the one it resumes when its token verifies, else a
   * fresh one. A refused resume evicts nobody (issue #7): it is logged, counted
   * and answered with a non-fatal RESUME_REFUSED, so the worker learns why its
   * welcome names another id. The token is never logged.
   */
  private claimWorkerId(c: Connection, f: HelloFrame): string {
    if (!f.resume) return this.newWorkerId();
    const asked = f.resume.workerId;
    if (this.identity.verify(asked, f.resume.token)) return asked;
    const workerId = this.newWorkerId();
    const why = f.resume.token === undefined ? 'no resume token' : 'the resume token does not verify';
    this.log.warn({ asked, workerId, kind: f.kind, remote: c.remote, code: ErrorCodes.RESUME_REFUSED }, `resume of ${asked} refused (${why}); assigned ${workerId}`);
    // Before the id is bound: the refusal is not charged to the new id's record.
    this.countRejection(c, ErrorCodes.RESUME_REFUSED);
    this.conns.sendTo(c, encodeFrame(errorFrameFor(new DuelError(ErrorCodes.RESUME_REFUSED, `resume of ${asked} refused: ${why}; this connection gets a new workerId`))));
    return workerId;
  }

  /** Samples claimed by results awaiting their ack, so an applied result credits its worker. */
  private readonly pendingSamples = new Map<string, number>();

  result(c: Connection, f: ResultFrame): void {
    if (!c.workerId || f.workerId !== c.workerId) {
      throw new DuelError(ErrorCodes.BAD_FRAME, `result names worker ${f.workerId} on the connection of ${c.workerId}`);
    }
    if (this.pendingSamples.size > 10_000) this.pendingSamples.clear();
    this.pendingSamples.set(`${c.workerId}/${f.taskId}`, f.stats.samples);
    const now = Date.now();
    const who = { kind: c.kind ?? 'unknown', backend: backendLabel(c.backend) };
    this.metrics.computeSeconds.observe(who, f.stats.computeMs / 1000);
    const sent = this.metrics.observer.sentAtOf(f.taskId);
    if (sent !== undefined) this.metrics.taskSeconds.observe(who, Math.max(0, now - sent) / 1000);
    this.recorder.received(c.workerId);
    this.recorder.staleness(c.workerId, Math.max(0, this.state.versions[f.phase] - (f.phase === 'G' ? f.versions.g : f.versions.d)));
    this.handle({
      type: 'ResultReceived',
      workerId: c.workerId,
      taskId: f.taskId,
      phase: f.phase,
      versions: f.versions,
      grads: f.grads,
      stats: f.stats,
      now,
    });
  }

  workerLeft(c: Connection, reason: string): void {
    if (!c.workerId) return;
    if (this.conns.byId(c.workerId) && this.conns.byId(c.workerId) !== c) return; // already replaced
    this.recorder.leave(c.workerId);
    this.log.log({ workerId: c.workerId, reason }, 'worker left');
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
      this.metrics.observer.before(this.rounds, event, this.state.versions);
      commands = roundStep(this.rounds, event).commands;
    } catch (e) {
      this.log.error(`round machine refused ${event.type}: ${(e as Error).message}`);
      return;
    }
    this.perform(commands);
  }

  /** Learning-rate multipliers set by the run controls (1 = as configured). */
  readonly lrScale: Record<Net, number> = { G: 1, D: 1 };

  /** A run control (POST /api/control) through the round machine; unlike handle(), a refused event throws (and changed nothing). */
  control(event: PauseEvent | ResumeEvent | ReconfigureEvent): void {
    this.perform(roundStep(this.rounds, { ...event, now: Date.now() }).commands);
  }

  /** The round machine's current settings, for the dashboard: k, strategy, paused. */
  roundSettings(): { k: number; paused: boolean; strategy: RoundConfig['strategy'] } {
    return { k: this.rounds.config.run.k, paused: this.rounds.paused, strategy: this.rounds.config.strategy };
  }

  private perform(commands: RoundCommand[]): void {
    for (const cmd of commands) {
      try {
        this.execute(cmd);
        this.metrics.observer.command(cmd, Date.now());
        this.checkpointer.observe(cmd);
        // The optimizer has read the aggregate and nothing keeps it: its buffer serves the next round's
        // (a fresh 6 MB per mlp G update was most of the coordinator's GC time; gradient-buffers.ts).
        if (cmd.type === 'ApplyUpdate') releaseGradients(cmd.grads);
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
        this.conns.unpark(cmd.workerId); // its deferred weights go out first
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
            ...(task.topK !== undefined ? { topK: task.topK } : {}),
          }),
        );
        return;
      }
      case 'SendWeights':
        this.conns.sendWeights(cmd.workerId, this.encodedWeights(cmd.net), cmd.net);
        return;
      case 'BroadcastWeights':
        this.conns.broadcast(this.encodedWeights(cmd.net), cmd.net);
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
        // shutting_down: the coordinator closes next (4503) and the worker reconnects after retryAfterMs.
        this.conns.send(cmd.workerId, encodeFrame({ t: 'wait', reason: cmd.reason, retryAfterMs: cmd.retryAfterMs, reconnect: cmd.reason === 'shutting_down' }));
        this.conns.park(cmd.workerId); // a waiting worker gets weights only with its next task
        return;
      case 'Checkpoint':
        return; // written by the Checkpointer (observe)
      case 'Validated':
        this.metrics.validations.inc({ outcome: cmd.outcome });
        if (cmd.outcome !== 'agreed' || cmd.rejected.length > 0) {
          this.log.warn({ accepted: cmd.accepted, rejected: cmd.rejected, arbitrated: cmd.arbitrated }, `validation ${cmd.outcome} on shard ${cmd.step}.${cmd.phase}${cmd.sub}.${cmd.shard}`);
        }
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
    applyGradients(this.state, this.opts.run, net, grads, step, scale * this.lrScale[net]);
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
    for (const c of this.conns.workers()) this.metrics.workers.inc({ kind: c.kind ?? 'unknown', backend: backendLabel(c.backend) });
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

  /** The run's model spec as plain JSON (what the welcome frame carries). */
  modelSpec(): Record<string, unknown> {
    return JSON.parse(JSON.stringify(this.sampler.spec));
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

/**
 * A worker's backend as a metrics label: one of the known names, else "other".
 * The name is the worker's own free-form string, and a Prometheus server keeps
 * a series for every label value it has seen.
 */
function backendLabel(backend: string | undefined): string {
  return backend && isBackendName(backend) ? backend : 'other';
}
