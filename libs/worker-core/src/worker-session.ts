import {
  admitFrame,
  closeCodeFor,
  closeReason,
  CloseCodes,
  decodeFrame,
  encodeFrame,
  errorFrameFor,
  FramePool,
  makeFrame,
  PROTOCOL_VERSION,
  toDuelError,
  type AckFrame,
  type CoordinatorFrame,
  type EncodableFrame,
  type ErrorFrame,
  type Frame,
  type FramePayload,
  type SessionPhase,
  type TaskFrame,
  type WelcomeFrame,
  type WorkerFrameType,
} from '@duel/protocol';
import { allFinite, DuelError, ErrorCodes, isDuelError, type ErrorCode } from '@duel/util';
import { createCounters, type WorkerCounters } from './counters';
import { MAX_PENDING_TASKS, PERMANENT_CODES, type FatalInfo, type LogLevel, type WorkerSessionOptions } from './session-options';
import { GradientCompressor, SUPPORTED_CODECS } from './gradient-compressor';
import { TaskRunner } from './task-runner';
import type { Transport } from './transport';

/**
 * The worker side of the duel protocol, with no I/O of its own: the runtime
 * (Node `ws`, or the browser volunteer's Web Worker) calls `onOpen(transport)`,
 * `onMessage(bytes)` and `onClose()`, and this class answers through the
 * transport. One session lives across reconnects: it keeps the workerId and
 * its resume token (sent as `hello.resume`), the counters and, for the same
 * run, the model.
 *
 * Frames that touch the model (welcome, weights, task) run one at a time in
 * arrival order, so a task always sees exactly the weights that came before it.
 * ping, ack, wait, error and bye are answered at once, even mid-task.
 *
 * A task whose versions differ from the weights held is not computed: the
 * worker answers a non-fatal `error` STALE_VERSION whose message starts with
 * `task <taskId>:` and the coordinator's deadline reassigns it. A third task
 * while two are pending gets RATE_LIMITED (non-fatal) the same way, and
 * NaN/Inf gradients NON_FINITE instead of a result. Weights older than ones
 * received on the same connection are ignored; non-finite weights get an
 * error NON_FINITE and a close, so the runtime reconnects for a clean copy.
 * See README.md for the runtime's duties.
 */
export class WorkerSession {
  readonly counters: WorkerCounters = createCounters();
  private readonly runner: TaskRunner;
  /** The negotiated gradient codec and its error-feedback residuals (kept across reconnects to the same run). */
  readonly compressor = new GradientCompressor();
  private readonly now: () => number;
  private readonly clock: () => number;
  private transport: Transport | null = null;
  /** Result frames' buffers, reused once the transport has written them. */
  private readonly frames = new FramePool();
  /** The task computed last (prefetch only follows the G task it was scheduled after). */
  private lastTask: string | null = null;
  private conn = 0;
  private phase: SessionPhase = 'closed';
  private chain: Promise<void> = Promise.resolve();
  private pendingTasks = 0;
  private draining = false;
  private id: string | null = null;
  /** welcome.resumeToken: proof of `id` for the next hello.resume; a secret, never logged. */
  private resumeToken: string | null = null;
  /** The id the last hello asked to resume, to notice a welcome that assigns another. */
  private asked: string | null = null;
  private heartbeat: number | null = null;
  private lastFrame = 0;
  private isPaused = false;
  private token: string | undefined;

  constructor(private readonly opts: WorkerSessionOptions) {
    this.token = opts.token;
    this.runner = new TaskRunner(opts.loadDataset, opts.microBatch);
    this.now = opts.now ?? (() => performance.now());
    this.clock = opts.clock ?? (() => Date.now());
  }

  /** The id the coordinator gave this worker; kept across reconnects. */
  get workerId(): string | null {
    return this.id;
  }

  /** True while the last wait frame stands (no task since). */
  get paused(): boolean {
    return this.isPaused;
  }

  get connected(): boolean {
    return this.transport !== null;
  }

  /** ms after which a silent connection counts as dead: three heartbeat intervals (PROTOCOL.md). */
  get deadAfterMs(): number {
    return 3 * (this.heartbeat ?? this.opts.defaultHeartbeatMs ?? 5_000);
  }

  /** ms since the last frame arrived on this connection. */
  silentMs(): number {
    return this.now() - this.lastFrame;
  }

  /** A connection opened: sends hello (with resume after the first welcome). */
  onOpen(transport: Transport): void {
    this.detach();
    this.transport = transport;
    this.conn++;
    this.phase = 'handshake';
    this.lastFrame = this.now();
    this.counters.connections++;
    const capabilities = { ...this.opts.capabilities, codecs: this.opts.capabilities.codecs ?? [...SUPPORTED_CODECS] };
    const hello: FramePayload<'hello'> = { protocol: PROTOCOL_VERSION, kind: this.opts.kind, capabilities };
    if (this.token !== undefined) hello.token = this.token;
    // A token-less resume (the welcome came from an older coordinator) keeps what such a coordinator expects.
    if (this.id !== null) hello.resume = this.resumeToken === null ? { workerId: this.id } : { workerId: this.id, token: this.resumeToken };
    this.asked = this.id;
    this.send('hello', hello);
    this.log('info', 'hello', { resume: this.id });
  }

  /** The connection closed (either side). Tasks not yet sent are dropped. Idempotent. */
  onClose(): void {
    this.detach();
  }

  /** One inbound binary message. Never throws: protocol errors are answered on the wire. */
  onMessage(bytes: Uint8Array | ArrayBuffer): void {
    if (!this.transport) return;
    const conn = this.conn;
    this.lastFrame = this.now();
    let frame: CoordinatorFrame;
    try {
      frame = decodeFrame(bytes, { from: 'coordinator' }) as CoordinatorFrame;
      this.phase = admitFrame(this.phase, frame.t, 'coordinator');
    } catch (e) {
      // Only weights frames carry tensors to a worker: non-finite weights leave
      // this worker without the version the coordinator believes it holds, so
      // it reports them and reconnects for a fresh copy (PROTOCOL.md, weights).
      this.fail(e, undefined, isDuelError(e) && e.code === ErrorCodes.NON_FINITE);
      return;
    }
    switch (frame.t) {
      case 'ping':
        this.send('pong', { ts: this.clock(), echo: frame.ts });
        return;
      case 'pong':
        return;
      case 'ack':
        return this.onAck(frame);
      case 'error':
        return this.onRemoteError(frame);
      case 'wait':
        this.isPaused = true;
        this.log('info', 'wait', { reason: frame.reason, retryAfterMs: frame.retryAfterMs, reconnect: frame.reconnect });
        this.opts.events?.wait?.(frame);
        return;
      case 'bye':
        this.log('info', 'coordinator-bye', { reason: frame.reason });
        this.closeTransport(CloseCodes.NORMAL, 'bye');
        return;
      case 'welcome':
        return this.enqueue(conn, () => this.onWelcome(frame));
      case 'weights':
        return this.enqueue(conn, async () => {
          const applied = this.runner.setWeights(frame.net, frame.version, frame.tensors);
          this.log('debug', applied ? 'weights' : 'weights-ignored', { net: frame.net, version: frame.version });
        });
      case 'task':
        return this.onTask(conn, frame);
    }
  }

  /** Starts no more tasks; resolves when the in-flight one (if any) has sent its result. */
  drain(): Promise<void> {
    this.draining = true;
    return this.idle();
  }

  /** Resolves when every frame received so far has been handled. */
  async idle(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.chain;
      await seen;
    } while (seen !== this.chain);
  }

  /** The token the next hello presents (a volunteer renews its session token between connections). */
  setToken(token: string | undefined): void {
    this.token = token;
  }

  /** Takes tasks again after a drain() (a volunteer that paused, left with bye, and comes back). */
  undrain(): void {
    this.draining = false;
  }

  /** Says goodbye and closes with 1000. Call `drain()` first to finish the in-flight task. */
  bye(reason: string): void {
    if (!this.transport) return;
    this.send('bye', { reason });
    this.log('info', 'bye', { reason });
    this.closeTransport(CloseCodes.NORMAL, reason);
  }

  /** Frees the model's tensors (the session is unusable afterwards). */
  dispose(): void {
    this.detach();
    this.runner.reset();
  }

  private async onWelcome(frame: WelcomeFrame): Promise<void> {
    // A refused resume (DUEL_ERR_RESUME_REFUSED) is not fatal: carry on under the new id and its token.
    if (this.asked !== null && frame.workerId !== this.asked) this.log('warn', 'new-worker-id', { asked: this.asked, assigned: frame.workerId });
    this.id = frame.workerId;
    this.resumeToken = frame.resumeToken ?? null;
    this.heartbeat = frame.heartbeatMs;
    this.runner.beginConnection();
    const reused = await this.runner.prepare(frame.run);
    this.compressor.configure(frame.codec, `${frame.run.id}/${frame.run.seed}`);
    this.log('info', 'welcome', { run: frame.run.id, dataset: frame.run.dataset, model: String(frame.run.model['name'] ?? '?'), reused });
    const ignored = this.runner.microBatchIgnored;
    if (ignored && !reused) this.log('warn', 'micro-batch-ignored', { microBatch: this.opts.microBatch, reason: `${ignored}: every batch runs whole` });
    this.opts.events?.welcome?.(frame, reused);
  }

  private onTask(conn: number, task: TaskFrame): void {
    this.isPaused = false;
    if (this.draining) return this.drop(task, 'stopping');
    if (this.pendingTasks >= MAX_PENDING_TASKS) {
      return this.abstain(task, ErrorCodes.RATE_LIMITED, `queue full (${MAX_PENDING_TASKS} tasks pending)`);
    }
    this.pendingTasks++;
    this.enqueue(conn, () => this.runTask(conn, task), task);
  }

  private async runTask(conn: number, task: TaskFrame): Promise<void> {
    // A task whose turn came before a drain is in flight: it runs to the end, throttle included.
    if (this.draining) return this.drop(task, 'stopping');
    await this.opts.beforeTask?.(task);
    // tfjs cpu/wasm kernels run synchronously and data() resolves in microtasks,
    // so back-to-back tasks would never let the socket be read: a macrotask
    // turn here lets pending pings be answered between tasks.
    await macrotask();
    if (!this.live(conn)) return this.drop(task, 'disconnected');
    const why = this.runner.mismatch(task.versions);
    if (why) return this.abstain(task, ErrorCodes.STALE_VERSION, why);
    const t0 = this.now();
    this.lastTask = task.taskId;
    const out = await this.runner.compute(task);
    const computeMs = Math.max(0, this.now() - t0) + out.aheadMs;
    if (!allFinite(out.grads) || !Number.isFinite(out.loss) || !Number.isFinite(out.dFake)) {
      return this.abstain(task, ErrorCodes.NON_FINITE, `NaN or Infinity in the ${task.phase} gradient or loss`);
    }
    if (!this.live(conn)) return this.drop(task, 'disconnected');
    const codec = this.compressor.codec.name;
    this.sendPooled(
      {
        t: 'result',
        taskId: task.taskId,
        workerId: this.id ?? '',
        phase: task.phase,
        versions: task.versions,
        // Coded after the finiteness check, so the error-feedback residual never holds NaN.
        grads: this.compressor.compress(task.phase, out.grads),
        // dReal is NaN in a G step (no real batch); the wire wants finite numbers.
        stats: { loss: out.loss, dReal: Number.isFinite(out.dReal) ? out.dReal : 0, dFake: out.dFake, samples: out.samples, computeMs },
        ...(codec === 'fp32' ? {} : { codec }),
      },
      // Once the result is written (a 6 MB one takes the event loop several writes), and while the
      // coordinator applies it, the part of the next task that does not need the new weights is
      // computed: after a G task the next D task's real half, after a D task the G task's G(z)
      // (TaskRunner.prefetchAfter).
      () => this.enqueue(conn, async () => this.prefetch(task)),
    );
    const c = this.counters;
    c.tasksDone++;
    c.samples += out.samples;
    c.computeMs += computeMs;
    this.log('debug', 'result', { taskId: task.taskId, phase: task.phase, computeMs: Math.round(computeMs), loss: out.loss });
    this.emitCounters();
  }

  private onAck(frame: AckFrame): void {
    const c = this.counters;
    if (frame.status === 'applied') c.accepted++;
    else if (frame.status === 'duplicate') c.duplicates++;
    else c.rejected++;
    if (frame.status !== 'applied') this.log('info', 'ack', { taskId: frame.taskId, status: frame.status, code: frame.code });
    this.emitCounters();
  }

  private onRemoteError(frame: ErrorFrame): void {
    this.log(frame.fatal ? 'error' : 'warn', 'coordinator-error', { code: frame.code, message: frame.message, fatal: frame.fatal ?? false });
    if (!frame.fatal) return;
    this.closeTransport(CloseCodes.NORMAL, 'fatal error from coordinator');
    const info: FatalInfo = { permanent: PERMANENT_CODES.has(frame.code), remote: true };
    if (frame.retryAfterMs !== undefined) info.retryAfterMs = frame.retryAfterMs;
    this.opts.events?.fatal?.(new DuelError(frame.code, frame.message), info);
  }

  /** Answers an error this worker detected; closes when the policy table says so. */
  private fail(e: unknown, taskId?: string, forceClose = false): void {
    const err = toDuelError(e);
    const frame = errorFrameFor(err);
    if (taskId !== undefined) frame.message = `task ${taskId}: ${frame.message}`.slice(0, 1024);
    if (forceClose) frame.fatal = true;
    this.log('error', 'error', { code: err.code, message: err.message, taskId, fatal: frame.fatal });
    this.sendFrame(frame);
    if (!frame.fatal) return;
    this.closeTransport(closeCodeFor(err.code) ?? CloseCodes.BAD_FRAME, closeReason(err));
    this.opts.events?.fatal?.(err, { permanent: PERMANENT_CODES.has(err.code), remote: false });
  }

  private abstain(task: TaskFrame, code: ErrorCode, why: string): void {
    this.counters.abstained++;
    this.log('warn', 'abstain', { taskId: task.taskId, code, why });
    this.sendFrame({ t: 'error', code, message: `task ${task.taskId}: ${why}`, fatal: false });
    this.emitCounters();
  }

  private drop(task: TaskFrame, why: string): void {
    this.counters.dropped++;
    this.log('info', 'drop', { taskId: task.taskId, why });
    this.emitCounters();
  }

  /**
   * Runs `work` after everything queued before it, if its connection is still
   * the live one. For a task: a dead connection drops it, an error names it,
   * and either way it stops counting as pending.
   */
  private enqueue(conn: number, work: () => Promise<void>, task?: TaskFrame): void {
    this.chain = this.chain.then(async () => {
      try {
        if (!this.live(conn)) return task && this.drop(task, 'disconnected');
        await work();
      } catch (e) {
        if (this.live(conn)) this.fail(e, task?.taskId);
      } finally {
        if (task) this.pendingTasks--;
      }
    });
  }

  private live(conn: number): boolean {
    return this.transport !== null && conn === this.conn;
  }

  private send<K extends WorkerFrameType>(t: K, payload: FramePayload<K>): void {
    this.sendFrame(makeFrame(t, payload) as Frame);
  }

  private sendFrame(frame: EncodableFrame): void {
    this.transport?.send(encodeFrame(frame));
  }

  /**
   * A result frame, encoded into a recycled buffer that the transport hands
   * back once written: a worker's results keep one layout per net, and a
   * fresh MB-sized buffer per result costs page faults and GC (the `mlp` G
   * result is 6 MB).
   */
  private sendPooled(frame: EncodableFrame, written?: () => void): void {
    if (!this.transport) return;
    const { bytes, release } = this.frames.encode(frame);
    this.transport.send(bytes, () => {
      release();
      written?.();
    });
  }

  /** Prefetches after task `task`, unless another task has started since (its answer came first). */
  private prefetch(task: TaskFrame): void {
    if (this.lastTask !== task.taskId || this.draining) return;
    try {
      this.runner.prefetchAfter(task);
    } catch (e) {
      this.log('warn', 'prefetch', { taskId: task.taskId, message: (e as Error).message });
    }
  }

  private closeTransport(code: number, reason: string): void {
    const t = this.transport;
    this.detach();
    t?.close(code, reason);
  }

  private detach(): void {
    if (this.transport) this.conn++;
    this.transport = null;
    this.phase = 'closed';
  }

  private emitCounters(): void {
    this.opts.events?.counters?.({ ...this.counters });
  }

  private log(level: LogLevel, event: string, fields: Record<string, unknown>): void {
    this.opts.events?.log?.(level, event, { workerId: this.id, ...fields });
  }
}

// Node's setTimeout(0) waits at least 1 ms; setImmediate runs right after pending I/O,
// which is all the turn is for (it is taken before every task, twice per step).
// Browsers (the volunteer's Web Worker) have no setImmediate.
const immediate = (globalThis as { setImmediate?: (cb: () => void) => unknown }).setImmediate;
function macrotask(): Promise<void> {
  return new Promise<void>((resolve) => (immediate ? immediate(resolve) : setTimeout(resolve, 0)));
}
