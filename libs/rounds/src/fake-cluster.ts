import { taskSeed } from '@duel/trainer';
import { Rng } from '@duel/util';
import { Driver, only } from './test-harness';
import type { RoundConfig, RoundEvent, RoundTask } from './types';

/**
 * A fake executor plus workers for tests (not exported from index.ts): it
 * carries out SendTask by computing the gradient as a deterministic function
 * of the TaskSpec, and delivers results after seeded random delays, with
 * stragglers, workers that drop and reconnect (sometimes re-sending their
 * lost result) and duplicated deliveries. No sockets, no timers: a
 * discrete-event loop on the Driver's clock.
 */
export interface ClusterOptions {
  workers: number;
  seed: number;
  /** Results arrive 1..maxDelayMs after their task. */
  maxDelayMs: number;
  /** Chance that a result is late by 3 × taskTimeoutMs. */
  straggle: number;
  /** Chance that a worker drops instead of answering, and reconnects. */
  drop: number;
  /** Chance that a result is delivered twice. */
  duplicate: number;
  tickMs: number;
  /** Volunteers among the workers (every other one), for per-kind strategies. */
  volunteers?: boolean;
}

interface Pending {
  at: number;
  seq: number;
  workerId: string;
  ev: RoundEvent;
  /** A result re-sent by the next session of the worker: survives the drop. */
  resend?: boolean;
}

export function simulate(cfg: RoundConfig, o: ClusterOptions, maxEvents = 20_000): Driver {
  const d = new Driver(cfg);
  const rng = new Rng(o.seed);
  const queue: Pending[] = [];
  let seq = 0;
  const at = (when: number, workerId: string, ev: RoundEvent, resend = false) => queue.push({ at: when, seq: seq++, workerId, ev, resend });
  const result = (workerId: string, task: RoundTask, now: number): RoundEvent => {
    if (task.seed !== taskSeed(cfg.run.seed, task)) throw new Error(`task ${task.taskId} carries a wrong seed`);
    return { ...d.resultFor(workerId, task), now };
  };
  const ids = Array.from({ length: o.workers }, (_, i) => `w${i + 1}`);
  const kindOf = (i: number) => (o.volunteers && i % 2 === 1 ? 'volunteer' : 'node');
  let handled = d.log.length;
  ids.forEach((id, i) => d.send({ type: 'WorkerJoined', workerId: id, kind: kindOf(i), maxBatch: 1 << 20, now: 0 }));
  let nextTick = o.tickMs;
  for (let n = 0; n < maxEvents && !d.st.complete; n++) {
    // Carry out the commands issued since last time: each task gets a fate.
    for (const c of only(d.log.slice(handled), 'SendTask')) {
      const now = d.now;
      const r = rng.uniform();
      if (r < o.drop) {
        const back = now + 1 + rng.int(o.maxDelayMs);
        at(now + 1, c.workerId, { type: 'WorkerLeft', workerId: c.workerId, reason: 'dropped', now: 0 });
        const i = ids.indexOf(c.workerId);
        at(back, c.workerId, { type: 'WorkerJoined', workerId: c.workerId, kind: kindOf(i), maxBatch: 1 << 20, now: 0 });
        if (rng.uniform() < 0.5) at(back + 1, c.workerId, result(c.workerId, c.task, 0), true);
        continue;
      }
      const delay = r < o.drop + o.straggle ? 3 * cfg.taskTimeoutMs : 1 + rng.int(o.maxDelayMs);
      at(now + delay, c.workerId, result(c.workerId, c.task, 0));
      if (rng.uniform() < o.duplicate) at(now + delay + 1 + rng.int(o.maxDelayMs), c.workerId, result(c.workerId, c.task, 0));
    }
    handled = d.log.length;
    queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const next = queue[0];
    if (!next || next.at >= nextTick) {
      d.now = nextTick;
      d.tick();
      nextTick += o.tickMs;
      continue;
    }
    queue.shift();
    d.now = next.at;
    if (next.ev.type === 'WorkerLeft') {
      // A dropped connection delivers nothing more from that session.
      for (let i = queue.length - 1; i >= 0; i--) {
        const q = queue[i];
        if (q.workerId === next.workerId && q.ev.type === 'ResultReceived' && !q.resend) queue.splice(i, 1);
      }
    }
    d.send({ ...next.ev, now: next.at } as RoundEvent);
  }
  return d;
}
