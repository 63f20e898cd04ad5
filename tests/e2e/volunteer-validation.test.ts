import { afterAll, describe, expect, it } from 'vitest';
import { defaultCoordinatorOptions, startCoordinator, type RunningCoordinator } from '@duel/coordinator';
import { resolveDataset } from '@duel/datasets';
import { tf } from '@duel/gan';
import { LocalTrainer, resolveRunConfig } from '@duel/trainer';
import { ErrorCodes } from '@duel/util';
import { runWorker, type AttackPlan, type WorkerHandle } from '@duel/worker-node';

interface Ledger {
  id: string;
  kind: string;
  accepted: number;
  rejected: number;
  rejectedByCode: Record<string, number>;
  credit: number;
}

/**
 * Validation by redundancy over real sockets: a coordinator started with
 * validation on, three honest volunteers and one that flips the sign of every
 * gradient it sends (the test-only Attacker of libs/worker-node), each a full
 * Node worker runtime (WorkerSession, TaskRunner on the cpu backend) joined as
 * kind 'volunteer' with a session token from POST /api/volunteer/session.
 */
describe('validation by redundancy: a tampering volunteer among honest ones (real coordinator, real sockets)', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
  });

  it('rejects the tamperer with DUEL_ERR_VALIDATION_MISMATCH, credits only honest work, and trains on honest gradients only', async () => {
    await tf.setBackend('cpu');
    const run = resolveRunConfig({ dataset: 'ring8', steps: 4, k: 1, batchSize: 16, hidden: 16, seed: 5 });
    const c: RunningCoordinator = await startCoordinator(defaultCoordinatorOptions(run, { port: 0, shards: 2, validation: {} }));
    cleanup.push(() => c.close());

    const volunteer = async (attack?: AttackPlan): Promise<{ handle: WorkerHandle; id: () => string | null }> => {
      const res = await fetch(`${c.url}/api/volunteer/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      const { token } = (await res.json()) as { token: string };
      const handle = await runWorker({
        coordinator: c.wsUrl,
        kind: 'volunteer',
        token,
        jitterSeed: 1,
        graceMs: 2_000,
        selectBackend: async () => ({ name: 'cpu', device: 'test cpu', reason: 'test' }),
        loadDataset: (name) => resolveDataset(name),
        log: () => undefined,
        attack,
      });
      cleanup.push(() => handle.stop('cleanup'));
      return { handle, id: () => handle.session.workerId };
    };
    // The tamperer joins first, so it is in the first pair of every round.
    const bad = await volunteer({ attacks: ['signflip'] });
    await waitFor(() => bad.id());
    const honest = [await volunteer(), await volunteer(), await volunteer()];

    await Promise.race([c.service.whenDone(), new Promise((_, fail) => setTimeout(() => fail(new Error('run did not complete')), 90_000))]);
    expect(c.service.state.step).toBe(run.steps);
    expect(c.service.state.versions).toEqual({ G: run.steps, D: run.steps });

    const status = (await (await fetch(`${c.url}/api/status`)).json()) as { workers: Ledger[] };
    const ledger = (id: string | null) => status.workers.find((w) => w.id === id)!;
    const t = ledger(bad.id());
    expect(t.kind).toBe('volunteer');
    expect(t.rejectedByCode[ErrorCodes.VALIDATION_MISMATCH]).toBeGreaterThan(0);
    expect(t).toMatchObject({ accepted: 0, credit: 0, rejected: t.rejectedByCode[ErrorCodes.VALIDATION_MISMATCH] });
    for (const h of honest) {
      const w = ledger(h.id());
      expect(w.credit, JSON.stringify(w)).toBeGreaterThan(0);
      expect(w.rejectedByCode[ErrorCodes.VALIDATION_MISMATCH] ?? 0).toBe(0);
    }
    // Two agreeing replicas credited per shard (a D result counts its real and fake samples, a G result its fakes).
    const credit = status.workers.reduce((n, w) => n + w.credit, 0);
    expect(credit).toBe(run.steps * 2 * (run.k * 2 * run.batchSize + run.batchSize));

    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    // One verdict per shard: 2 shards in each of the k + 1 updates of every step.
    expect(counter(metrics, 'duel_validations_total{outcome="agreed"}')).toBe(run.steps * (run.k + 1) * 2);
    expect(counter(metrics, 'duel_validations_total{outcome="mismatch"}')).toBeGreaterThan(0);
    expect(counter(metrics, 'duel_results_total{status="rejected",code="DUEL_ERR_VALIDATION_MISMATCH"}')).toBe(t.rejected);

    // Every applied shard gradient was an honest replica, computed with the same kernels as the
    // reference trainer: the weights equal `duel local --shards 2` bit for bit.
    const local = new LocalTrainer(run, await resolveDataset('ring8'), { numShards: 2 });
    while (!local.done) await local.step();
    expect(c.service.state.weights.G).toEqual(local.state.weights.G);
    expect(c.service.state.weights.D).toEqual(local.state.weights.D);
    local.dispose();
  }, 120_000);
});

function counter(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function waitFor<T>(fn: () => T | null, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
