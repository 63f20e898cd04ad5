import { afterAll, describe, expect, it } from 'vitest';
import { defaultCoordinatorOptions, startCoordinator, type RunningCoordinator } from '@duel/coordinator';
import { summarize, type RoundState } from '@duel/rounds';
import { resolveRunConfig } from '@duel/trainer';
import { spawnWorkers, type LocalWorkers } from '../support/workers';

async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A worker process killed with SIGKILL mid-run: its shard is reassigned and the run completes. */
describe('worker loss (real worker processes)', () => {
  let c: RunningCoordinator | undefined;
  let workers: LocalWorkers | undefined;
  afterAll(async () => {
    await workers?.stop();
    await c?.close();
  });

  it('completes the run after a worker is SIGKILLed, reassigning its shard', async () => {
    const run = resolveRunConfig({ dataset: 'ring8', steps: 40, batchSize: 128, hidden: 64, seed: 9 });
    c = await startCoordinator(defaultCoordinatorOptions(run, { port: 0, shards: 3, taskTimeoutMs: 2000 }));
    workers = spawnWorkers(3, c.wsUrl, 'cpu');
    const svc = c.service;
    // Kill it while it holds a task: a SIGKILL between rounds leaves nothing to
    // reassign. The test reads the machine's own view (all three shards out).
    const machine = () => summarize((svc as unknown as { rounds: RoundState }).rounds);
    await until(() => svc.state.step >= 5 && machine().busy === 3, 120_000, 'step 5 with all three workers holding a task');
    workers.procs[1].kill('SIGKILL');
    await svc.whenDone();
    expect(svc.state.step).toBe(40);
    expect(svc.state.versions).toEqual({ G: 40, D: 40 });
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    const retries = [...metrics.matchAll(/duel_tasks_sent_total\{phase="[DG]",attempt="retry"\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(retries).toBeGreaterThan(0);
    const alive = svc.workerStats().filter((w) => w.connected);
    expect(alive.length).toBe(2);
    for (const w of alive) {
      expect(w.accepted).toBeGreaterThan(0);
      expect(w.samples).toBeGreaterThan(0);
    }
  });
});
