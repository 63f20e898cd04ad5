import { MeanStrategy, type AggregateOutcome, type AggregationStrategy, type ClientUpdate, type Failure } from '@duel/aggregation';
import type { TaskSpec } from '@duel/trainer';
import { deriveSeed, Rng, type NamedWeights } from '@duel/util';
import { createRoundState } from './config';
import { step } from './machine';
import type { RoundCommand, RoundConfig, RestoredRounds, RoundEvent, RoundState, RoundTask, ResultReceivedEvent, Versions, WorkerKind } from './types';

/**
 * Test support for the round machine (not exported from index.ts): a driver
 * that feeds events, keeps the command log, and checks the machine's
 * invariants after every step, so every scenario test also tests them.
 */

/** A small run: 2 steps, k = 2, batch 12 in packs of 2 (6 packs). */
export const RUN = { seed: 7, steps: 2, k: 2, batchSize: 12, pack: 2 };

export function config(over: Partial<RoundConfig> = {}): RoundConfig {
  return {
    mode: 'sync',
    run: RUN,
    shards: 3,
    staleness: 2,
    taskTimeoutMs: 1000,
    quorum: 1,
    checkpointEvery: 0,
    strategy: new MeanStrategy(),
    ...over,
  };
}

/** A gradient that is a deterministic function of the TaskSpec: 5 values, plus a 2×2 tensor. */
export function fakeGrads(t: TaskSpec): NamedWeights {
  const rng = new Rng(deriveSeed(t.phase === 'D' ? 1 : 2, t.step, t.sub, t.shard, t.numShards));
  const a = new Float32Array(5);
  const b = new Float32Array(4);
  rng.fillNormal(a, 0, 1);
  rng.fillNormal(b, 0, 1);
  return [
    { name: 'a', shape: [5], data: a },
    { name: 'b', shape: [2, 2], data: b },
  ];
}

/** Samples as libs/gan reports them: real + fake for D, fake for G. */
export function statSamples(t: Pick<TaskSpec, 'phase' | 'batch'>): number {
  return t.phase === 'D' ? 2 * t.batch : t.batch;
}

/** Records what a strategy was given, and delegates. */
export class SpyStrategy implements AggregationStrategy {
  readonly name: string;
  readonly calls: { results: ClientUpdate[]; failures: Failure[] }[] = [];
  constructor(private readonly inner: AggregationStrategy = new MeanStrategy()) {
    this.name = `spy(${inner.name})`;
  }
  aggregate(results: readonly ClientUpdate[], failures: readonly Failure[] = []): AggregateOutcome {
    this.calls.push({ results: [...results], failures: [...failures] });
    return this.inner.aggregate(results, failures);
  }
  counts() {
    return this.inner.counts();
  }
  get lastRejected() {
    return this.inner.lastRejected;
  }
}

export type Of<T extends RoundCommand['type']> = Extract<RoundCommand, { type: T }>;

export function only<T extends RoundCommand['type']>(cmds: readonly RoundCommand[], type: T): Of<T>[] {
  return cmds.filter((c): c is Of<T> => c.type === type);
}

/** Checks the machine's invariants on the command stream, from the executor's side. */
class Monitor {
  private present = new Set<string>();
  private has = new Map<string, Versions>();
  private busy = new Map<string, string>();
  private versions: Versions;
  private applied = new Set<string>();
  private complete = false;
  private paused = false;
  private shutdown = false;

  constructor(start: Versions) {
    this.versions = { ...start };
  }

  see(ev: RoundEvent, cmds: readonly RoundCommand[]): void {
    const fail = (why: string) => {
      throw new Error(`invariant broken after ${ev.type}: ${why}`);
    };
    if (ev.type === 'WorkerJoined') {
      this.present.add(ev.workerId);
      this.has.delete(ev.workerId);
      this.busy.delete(ev.workerId);
    }
    if (ev.type === 'WorkerLeft') {
      this.present.delete(ev.workerId);
      this.busy.delete(ev.workerId);
    }
    if (ev.type === 'ResultReceived' && this.busy.get(ev.workerId) === ev.taskId) this.busy.delete(ev.workerId);
    if (ev.type === 'Pause') this.paused = true;
    if (ev.type === 'Resume') this.paused = false;
    if (ev.type === 'Shutdown') this.shutdown = true;
    for (const c of cmds) {
      switch (c.type) {
        case 'SendWeights': {
          const h = this.has.get(c.workerId) ?? { g: -1, d: -1 };
          this.has.set(c.workerId, c.net === 'G' ? { ...h, g: c.version } : { ...h, d: c.version });
          break;
        }
        case 'BroadcastWeights':
          if (c.version !== (c.net === 'G' ? this.versions.g : this.versions.d)) fail(`broadcast of ${c.net}@${c.version} is not the current version`);
          for (const id of this.present) {
            const h = this.has.get(id) ?? { g: -1, d: -1 };
            this.has.set(id, c.net === 'G' ? { ...h, g: c.version } : { ...h, d: c.version });
          }
          break;
        case 'ApplyUpdate': {
          const key = c.net === 'G' ? 'g' : 'd';
          if (c.version !== this.versions[key] + 1) fail(`ApplyUpdate ${c.net} to ${c.version} from ${this.versions[key]}`);
          this.versions[key] = c.version;
          break;
        }
        case 'Ack':
          if (c.status === 'applied') {
            if (this.applied.has(c.taskId)) fail(`${c.taskId} applied twice`);
            this.applied.add(c.taskId);
          }
          break;
        case 'SendTask': {
          const h = this.has.get(c.workerId);
          if (!this.present.has(c.workerId)) fail(`task to absent worker ${c.workerId}`);
          if (!h || h.g !== c.task.versions.g || h.d !== c.task.versions.d) fail(`task ${c.task.taskId} names weights ${c.workerId} was not sent`);
          if (this.busy.has(c.workerId)) fail(`${c.workerId} got a second task`);
          if (this.complete) fail('task after RunComplete');
          if (this.paused) fail('task while paused');
          if (this.shutdown) fail('task after Shutdown');
          this.busy.set(c.workerId, c.task.taskId);
          break;
        }
        case 'RunComplete':
          if (this.complete) fail('RunComplete twice');
          this.complete = true;
          break;
        default:
          break;
      }
    }
  }
}

/** Feeds events to a machine at a controllable clock; `log` has every command, `events` every event. */
export class Driver {
  readonly st: RoundState;
  readonly log: RoundCommand[] = [];
  readonly events: RoundEvent[] = [];
  now = 0;
  private readonly monitor: Monitor;

  constructor(cfg: RoundConfig = config(), restored?: RestoredRounds) {
    this.st = createRoundState(cfg, restored);
    this.monitor = new Monitor(this.st.versions);
  }

  send(ev: RoundEvent): RoundCommand[] {
    this.events.push(ev);
    const { commands } = step(this.st, ev);
    this.monitor.see(ev, commands);
    this.log.push(...commands);
    return commands;
  }

  join(workerId: string, kind: WorkerKind = 'node', maxBatch = 1 << 20): RoundCommand[] {
    return this.send({ type: 'WorkerJoined', workerId, kind, maxBatch, now: this.now });
  }

  leave(workerId: string, reason = 'closed'): RoundCommand[] {
    return this.send({ type: 'WorkerLeft', workerId, reason, now: this.now });
  }

  tick(advanceMs = 0): RoundCommand[] {
    this.now += advanceMs;
    return this.send({ type: 'Tick', now: this.now });
  }

  /** The honest result for `task`, with fields overridden by `over`. */
  resultFor(workerId: string, task: RoundTask, over: Partial<ResultReceivedEvent> = {}): ResultReceivedEvent {
    return {
      type: 'ResultReceived',
      workerId,
      taskId: task.taskId,
      phase: task.phase,
      versions: { ...task.versions },
      grads: fakeGrads(task),
      stats: { loss: 1 + task.shard, dReal: 0.5, dFake: 0.25 * (task.shard + 1), samples: statSamples(task), computeMs: 5 },
      now: this.now,
      ...over,
    };
  }

  /** Answers the latest task sent to `workerId`. */
  answer(workerId: string, over: Partial<ResultReceivedEvent> = {}): RoundCommand[] {
    return this.send(this.resultFor(workerId, this.lastTask(workerId), over));
  }

  lastTask(workerId: string): RoundTask {
    const t = only(this.log, 'SendTask').filter((c) => c.workerId === workerId).at(-1);
    if (!t) throw new Error(`no task was sent to ${workerId}`);
    return t.task;
  }

  tasks(cmds: readonly RoundCommand[] = this.log): RoundTask[] {
    return only(cmds, 'SendTask').map((c) => c.task);
  }
}
