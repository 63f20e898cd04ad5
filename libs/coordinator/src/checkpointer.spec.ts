import { MemoryStateStore } from '@duel/store';
import { describe, expect, it } from 'vitest';
import { Checkpointer, type CheckpointSource } from './checkpointer';
import type { CoordinatorOptions } from './coordinator.options';
import { MetricsService } from './metrics.service';
import { RunRecorder } from './run-recorder';
import { WorkerConnections } from './worker-connections';
import { WorkerIdentity } from './worker-identity';

const HEARTBEAT_MS = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Checkpointer on a memory store whose source is a real RunRecorder; the round machine is not needed for credit. */
function setUp(recorder: RunRecorder, connected: () => string[]) {
  const store = new MemoryStateStore();
  const metrics = new MetricsService();
  const opts = { heartbeatMs: HEARTBEAT_MS, run: { dataset: 'ring8' }, mode: 'sync', shards: 1 } as unknown as CoordinatorOptions;
  const cp = new Checkpointer({ store, resumed: null }, opts, metrics, new WorkerConnections(metrics), new WorkerIdentity({ sessionSecret: 's' }, { resumed: null }));
  const src = {
    runId: 'run-test',
    isDone: () => true,
    workerStats: () => recorder.workers(connected()),
    retiredWorkerStats: () => recorder.takeRetired(),
  } as unknown as CheckpointSource;
  cp.bind(src);
  const credits = async () => Object.fromEntries((await store.credits()).map((c) => [c.workerId, [c.applied, c.samples]]));
  return { cp, credits };
}

describe('Checkpointer credit for retired ledgers', () => {
  it('adds a retired worker\'s last credit to the store, and counts it from zero if it comes back', async () => {
    const r = new RunRecorder(1);
    const live = new Set<string>();
    const join = (id: string) => (live.add(id), r.join(id, 'volunteer', 'wasm', 'chrome'));
    const leave = (id: string) => (live.delete(id), r.leave(id));
    const earn = (id: string, samples: number) => (r.ack(id, 'applied'), r.contributed(id, samples));
    const { cp, credits } = setUp(r, () => [...live]);
    try {
      join('a');
      join('b');
      earn('a', 64);
      earn('b', 64);
      await sleep(3 * HEARTBEAT_MS);
      expect(await credits()).toEqual({ a: [1, 64], b: [1, 64] });
      // a earns once more and leaves; b leaves after it, so a's ledger is retired before the next sync.
      earn('a', 32);
      leave('a');
      leave('b');
      expect(r.workers([...live]).map((w) => w.id)).toEqual(['b']);
      // a comes back at once with its resume token: a fresh ledger under the same id.
      join('a');
      earn('a', 10);
      await sleep(3 * HEARTBEAT_MS);
      expect(await credits()).toEqual({ a: [3, 106], b: [1, 64] });
    } finally {
      await cp.shutdown();
    }
  });
});
