import type { AggregationStrategy, StalenessMode, WorkerKind } from '@duel/aggregation';
import type { AckStatus, Phase, RunMode, Versions, WaitReason } from '@duel/protocol';
import type { RunConfig, TaskSpec } from '@duel/trainer';
import type { ErrorCode, NamedWeights } from '@duel/util';

export type { AckStatus, Phase, RunMode, Versions, WaitReason, WorkerKind };

/** A point of the training schedule: one update of one net (D sub 0..k−1, then G sub 0, per 1-based step). */
export interface RoundPosition {
  phase: Phase;
  step: number;
  sub: number;
}

/** Where a run (re)starts: the next update to run and the weights' versions at that point. */
export interface StartPosition extends RoundPosition {
  versions: Versions;
}

/** One aggregation strategy for every worker, or one per worker kind. */
export type StrategyConfig = AggregationStrategy | { node: AggregationStrategy; volunteer: AggregationStrategy };

/** The RunConfig fields the round machine reads. */
export type RoundRunFields = Pick<RunConfig, 'seed' | 'steps' | 'k' | 'batchSize' | 'pack'> & Partial<Pick<RunConfig, 'topK'>>;

/** How the coordinator runs rounds. */
export interface RoundConfig {
  mode: RunMode;
  /** The run's schedule and batch: a RunConfig fits here as is. */
  run: RoundRunFields;
  /**
   * Shards per update (sync). 'auto': one per active worker when the round
   * opens, raised so every shard fits the smallest `maxBatch` of those
   * workers, and capped at batchSize/pack (one pack per shard).
   */
  shards: number | 'auto';
  /** Async: the largest staleness (versions behind) a result may have and still be applied. */
  staleness: number;
  /** Async: how a stale update is discounted (ApplyUpdate.scale); default 'inverse', 1/(1+τ). */
  stalenessMode?: StalenessMode;
  /** A task not answered this long after it was sent is a straggler; also the round deadline (sync). */
  taskTimeoutMs: number;
  /**
   * Sync, in (0, 1]. 1: wait for every shard, reassigning stragglers' shards.
   * Below 1: once the round deadline has passed, close the round as soon as
   * ceil(quorum × numShards) shards have answered; the rest reach the strategy as failures.
   */
  quorum: number;
  /** Emit Checkpoint after every this many steps; 0 = only at Shutdown. */
  checkpointEvery: number;
  /**
   * Also emit Checkpoint on a Tick when this many ms have passed since the
   * last one and a G update was applied since; 0 or absent = steps only.
   */
  checkpointEveryMs?: number;
  strategy: StrategyConfig;
  /** The next update to run; default step 1, D sub 0, versions {g: 0, d: 0}. */
  start?: StartPosition;
  /** The first round opens only once this many workers are present; default 1. */
  minWorkers?: number;
  /** Wait.retryAfterMs hint; default 1000. */
  waitRetryMs?: number;
  /** Sync only: validate volunteers' results by redundancy (validation.ts); absent = off. */
  validation?: ValidationConfig;
}

/**
 * Validation by redundancy (BOINC-style): a shard a volunteer computes counts
 * only once `replicas` volunteers' results for it agree, or a node worker
 * (trusted) computed it too. Node workers' own shards are not replicated.
 */
export interface ValidationConfig {
  /** Agreeing replicas a volunteer shard needs (BOINC's min_quorum); ≥ 2, default 2. */
  replicas?: number;
  /** Largest relative L2 distance of two replicas that still agree (gradientDistance). */
  tolerance: number;
  /**
   * Volunteer replicas of one shard at most (BOINC's max_total_results);
   * default replicas + 2. Reached without agreement: every replica is
   * rejected and only a node worker may compute the shard.
   */
  maxReplicas?: number;
}

/** A RoundConfig with every default filled in. */
export interface ResolvedRoundConfig extends RoundConfig {
  stalenessMode: StalenessMode;
  start: StartPosition;
  minWorkers: number;
  waitRetryMs: number;
  validation?: Required<ValidationConfig>;
}

export interface ResultStats {
  loss: number;
  dReal: number;
  dFake: number;
  samples: number;
  computeMs: number;
}

// ── Events: what the coordinator tells the machine ──────────────────────────

export interface WorkerJoinedEvent {
  type: 'WorkerJoined';
  workerId: string;
  kind: WorkerKind;
  /** Largest batch the worker accepts in one task. */
  maxBatch: number;
  now: number;
}

export interface WorkerLeftEvent {
  type: 'WorkerLeft';
  workerId: string;
  reason: string;
  now: number;
}

export interface ResultReceivedEvent {
  type: 'ResultReceived';
  workerId: string;
  taskId: string;
  phase: Phase;
  /** The versions the worker says it computed at. */
  versions: Versions;
  /** Gradients of the `phase` net, canonical order. */
  grads: NamedWeights;
  stats: ResultStats;
  now: number;
}

export interface TickEvent {
  type: 'Tick';
  now: number;
}

/** Stop issuing tasks; outstanding ones may still finish and close their round. */
export interface PauseEvent {
  type: 'Pause';
  now?: number;
}

export interface ResumeEvent {
  type: 'Resume';
  now?: number;
}

/**
 * A run control from the dashboard: k (D updates per G update) and the
 * aggregation strategy, both taking effect at the next schedule position or
 * round close; fields left out stay as they are.
 */
export interface ReconfigureEvent {
  type: 'Reconfigure';
  k?: number;
  strategy?: StrategyConfig;
  now?: number;
}

/** Stop issuing, abandon the open round and checkpoint. Final. */
export interface ShutdownEvent {
  type: 'Shutdown';
  now: number;
}

export type RoundEvent =
  | WorkerJoinedEvent
  | WorkerLeftEvent
  | ResultReceivedEvent
  | TickEvent
  | PauseEvent
  | ResumeEvent
  | ReconfigureEvent
  | ShutdownEvent;

// ── Commands: what the machine asks the executor to do, in order ─────────────

/** A task as sent: the TaskSpec plus what the worker needs to compute it. */
export interface RoundTask extends TaskSpec {
  /** `${step}.${phase}${sub}.${shard}.${attempt}`, e.g. "3.D0.1.0" (see task-id.ts). */
  taskId: string;
  /** taskSeed(run.seed, task): the z seed. */
  seed: number;
  /** The weights versions the gradient must be computed at. */
  versions: Versions;
  /** Time budget from receipt (= taskTimeoutMs). */
  deadlineMs: number;
  /** G tasks of a top-k run only: topKShare(run, step), the share of fake packs G descends on. */
  topK?: number;
}

export interface SendTaskCommand {
  type: 'SendTask';
  workerId: string;
  task: RoundTask;
}

/** Send the current weights of `net` (at `version`) to one worker: a joiner gets G and D before any task. */
export interface SendWeightsCommand {
  type: 'SendWeights';
  workerId: string;
  net: Phase;
  version: number;
}

/** Send the current weights of `net` to every worker; encode once. */
export interface BroadcastWeightsCommand {
  type: 'BroadcastWeights';
  net: Phase;
  version: number;
}

export interface AckCommand {
  type: 'Ack';
  workerId: string;
  taskId: string;
  status: AckStatus;
  code?: ErrorCode;
}

/**
 * Run the optimizer on `net` with `grads` at training step `step` (its
 * learning-rate schedule). The machine has already counted the new version.
 */
export interface ApplyUpdateCommand {
  type: 'ApplyUpdate';
  net: Phase;
  grads: NamedWeights;
  step: number;
  sub: number;
  /** Workers whose gradients went in (a worker appears once per shard it computed). */
  contributors: string[];
  /**
   * Multiplier for this update's step size: 1 in sync; stalenessScale(τ) in
   * async. Apply it to the learning rate: Adam divides out a gradient scale.
   */
  scale: number;
  /** The net's version after this update. */
  version: number;
}

/** Sample-weighted means of the stats of the results that went into an update. */
export interface UpdateMetricsCommand {
  type: 'UpdateMetrics';
  phase: Phase;
  step: number;
  loss: number;
  dReal: number;
  dFake: number;
  samples: number;
}

export interface WaitCommand {
  type: 'Wait';
  workerId: string;
  reason: WaitReason;
  retryAfterMs: number;
}

/** Persist the coordinator's training state; `next` is the StartPosition to resume from. */
export interface CheckpointCommand {
  type: 'Checkpoint';
  /** Step of the latest applied G update (TrainingState.step). */
  step: number;
  next: StartPosition;
  /**
   * The remembered outcomes of resolved tasks, oldest first: persist them and
   * pass them back to createRoundState, so a copy of a result applied before
   * the checkpoint is still answered 'duplicate' after a restart.
   */
  resolved: [string, ResolvedOutcome][];
  /**
   * Async only (absent in sync): the schedule positions issued but not
   * applied, in schedule order (step, then D subs before G): every attempt
   * in flight (within its deadline or not), as its position under the next
   * attempt number, and every position waiting to be issued again. Persist
   * it and pass it back to createRoundState, so a resumed machine issues
   * these positions again before the cursor moves on, and `steps` still
   * counts applied updates across a restart.
   */
  pending?: AsyncRetry[];
}

export interface RunCompleteCommand {
  type: 'RunComplete';
  step: number;
}

/**
 * A validation verdict on one shard (for metrics and logs; nothing to send).
 * 'agreed': enough replicas agreed, or a node worker arbitrated, and the
 * shard has its result; 'mismatch': the replicas so far disagree, so one more
 * is sent; 'failed': maxReplicas volunteers disagreed, all were rejected.
 */
export interface ValidatedCommand {
  type: 'Validated';
  outcome: 'agreed' | 'mismatch' | 'failed';
  phase: Phase;
  step: number;
  sub: number;
  shard: number;
  /** 'agreed': the workers whose replicas count (the winner first). */
  accepted: string[];
  /** Workers whose replicas were rejected now with DUEL_ERR_VALIDATION_MISMATCH. */
  rejected: string[];
  /** 'agreed' by a node worker's result rather than a volunteers' majority. */
  arbitrated: boolean;
}

export type RoundCommand =
  | SendTaskCommand
  | SendWeightsCommand
  | BroadcastWeightsCommand
  | AckCommand
  | ApplyUpdateCommand
  | UpdateMetricsCommand
  | WaitCommand
  | CheckpointCommand
  | RunCompleteCommand
  | ValidatedCommand;

// ── State ────────────────────────────────────────────────────────────────────

export interface WorkerRecord {
  id: string;
  kind: WorkerKind;
  maxBatch: number;
  /** The task this worker is computing (at most one), or null when idle. */
  task: string | null;
  /** Versions of the weights this worker has been sent. */
  has: Versions;
  /** The reason of the last Wait sent since it was last busy, so Waits are not repeated. */
  waiting: WaitReason | null;
  /**
   * The strategy quarantined this worker (a result refused as
   * DUEL_ERR_QUARANTINED): it gets no more tasks, so its shards go to the
   * other workers instead of to a worker whose every result is thrown away.
   */
  benched?: boolean;
}

/** One sending of a task: a shard may have several (reassignment), each with its own taskId. */
export interface Attempt {
  taskId: string;
  workerId: string;
  kind: WorkerKind;
  task: RoundTask;
  /** Absolute time (ms) after which the attempt is a straggler. */
  deadline: number;
  /** Past its deadline (sync: its shard was offered to others). */
  expired: boolean;
}

/** A result that passed the receipt checks. */
export interface AcceptedResult {
  taskId: string;
  workerId: string;
  kind: WorkerKind;
  shard: number;
  batch: number;
  grads: NamedWeights;
  stats: ResultStats;
}

export interface ShardState {
  spec: TaskSpec;
  seed: number;
  /** Attempts sent so far (the next attempt's suffix). */
  attempts: number;
  /** The winning result, once one arrived. */
  result: AcceptedResult | null;
  /** Validation only: present once a volunteer was sent this shard. */
  votes?: ShardVotes;
}

/** A shard under validation by redundancy. */
export interface ShardVotes {
  /** Volunteers' results not yet decided on, in arrival order (one per worker). */
  candidates: AcceptedResult[];
  /** The candidates disagreed: the next replica arbitrates (a node worker when one is present). */
  contested: boolean;
  /** maxReplicas volunteers disagreed: only a node worker may compute the shard now. */
  trustedOnly: boolean;
  /** Replicas that agreed with `result`: acked (and credited) with it when the round closes. */
  partners: AcceptedResult[];
}

/** The open synchronous round: one update over numShards shards. */
export interface SyncRound extends RoundPosition {
  numShards: number;
  openedAt: number;
  /** openedAt + taskTimeoutMs: when a quorum below 1 may close the round. */
  deadline: number;
  shards: ShardState[];
  /** Shard indexes waiting for a worker, ascending. */
  pending: number[];
  /** Attempts of this round by taskId, in sending order. */
  attempts: Map<string, Attempt>;
}

/** An async schedule position to issue again, and the attempt number its next task carries. */
export interface AsyncRetry {
  pos: RoundPosition;
  attempt: number;
}

/** Async: the tasks in flight, the positions to issue again, and the next schedule position to issue. */
export interface AsyncState {
  cursor: RoundPosition;
  outstanding: Map<string, Attempt>;
  /** Issued positions whose attempt ended without an update (refused or lost), issued again before the cursor moves on. */
  retry: AsyncRetry[];
}

/** What became of a task that can no longer be accepted, for answering late copies of its result. */
export type ResolvedOutcome = 'consumed' | 'closed';

export interface RoundState {
  config: ResolvedRoundConfig;
  /** The latest `now` seen; used by events that carry none. */
  now: number;
  versions: Versions;
  /** Sync: the next round to open (or the open one). Async: unused (see async.cursor). */
  position: RoundPosition;
  /** Step of the latest applied G update. */
  lastGStep: number;
  /** lastGStep at the latest Checkpoint, so the run's end does not checkpoint the same step twice. */
  lastCheckpointStep: number;
  /** `now` at the latest Checkpoint (or at the first event), for checkpointEveryMs. */
  lastCheckpointAt: number | null;
  started: boolean;
  paused: boolean;
  shutdown: boolean;
  complete: boolean;
  /** Present workers in join order (the order idle workers take tasks). */
  workers: Map<string, WorkerRecord>;
  round: SyncRound | null;
  async: AsyncState;
  /**
   * Recently resolved taskIds (bounded FIFO): 'consumed' = its shard/update
   * already counted, a copy is a duplicate; 'closed' = its round closed without it.
   */
  resolved: Map<string, ResolvedOutcome>;
}

/** What a resumed machine takes over from its checkpoint besides the position (config.start). */
export interface RestoredRounds {
  resolved?: readonly (readonly [string, ResolvedOutcome])[];
  /**
   * Async only: the checkpoint's `pending` positions, issued again (each
   * once, under its recorded attempt number) before the cursor moves on.
   * Absent (an older checkpoint, or a sync run): nothing to issue again.
   */
  pending?: readonly AsyncRetry[];
}

export interface StepResult {
  state: RoundState;
  commands: RoundCommand[];
}
