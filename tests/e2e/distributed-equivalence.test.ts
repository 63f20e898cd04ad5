import { describe, expect, it } from 'vitest';
import { runDuel } from '../support/cli';

interface Summary {
  steps: number;
  versions: { G: number; D: number };
  weightsDigest: string;
  final: { dLoss: number; gLoss: number };
  quality: { kind: string; n: number };
  history?: { step: number; kind: string; n: number }[];
}

/**
 * The distributed trainer is the local reference trainer with a network in
 * between: with the same seed, N workers over real WebSockets (N coordinator-
 * side shards) must land on bit-identical weights to `duel local --shards N`.
 */
describe('duel train vs duel local (real processes, real WebSockets)', () => {
  it('1 worker in sync mode reaches the same weights as duel local after 50 steps, with quality traced on the way', async () => {
    const common = ['--dataset', 'ring8', '--steps', '50', '--seed', '11', '--batch', '32', '--backend', 'wasm', '--json'];
    // --eval-every samples G while the run goes on; it must not touch the weights the digest checks.
    const dist = await runDuel(['train', '--workers', '1', '--eval-every', '10', ...common]);
    expect(dist.code, dist.stderr.slice(-3000)).toBe(0);
    const local = await runDuel(['local', ...common]);
    expect(local.code, local.stderr.slice(-3000)).toBe(0);
    const d = dist.json<Summary>();
    expect(d.versions).toEqual({ G: 50, D: 50 });
    // The trace polls beside the rounds, so how many reports land (and at which steps) depends on the pace;
    // 50 steps over a socket take seconds, so there is at least one, and each is a full report.
    expect(d.history!.length).toBeGreaterThanOrEqual(1);
    for (const h of d.history!) expect(h).toMatchObject({ kind: '2d', n: 2500, step: expect.any(Number) });
    expect(d.history!.map((h) => h.step)).toEqual([...d.history!.map((h) => h.step)].sort((a, b) => a - b));
    // Bit-identical (so certainly within 1e-5): same tasks, same kernels, same Adam.
    expect(d.weightsDigest).toBe(local.json<Summary>().weightsDigest);
  }, 400_000);

  it('2 workers reproduce the local trainer with 2 shards bit for bit (k = 2, top-k G steps)', async () => {
    // --top-k sends each G task its share in the task frame (PROTOCOL.md, task.topK): the workers must apply it as duel local does.
    const common = ['--dataset', 'ring8', '--steps', '12', '--seed', '7', '--batch', '64', '--k', '2', '--top-k', '0.5', '--backend', 'wasm', '--json'];
    const dist = await runDuel(['train', '--workers', '2', ...common]);
    expect(dist.code, dist.stderr.slice(-3000)).toBe(0);
    const local = await runDuel(['local', '--shards', '2', ...common]);
    expect(local.code, local.stderr.slice(-3000)).toBe(0);
    const d = dist.json<Summary>();
    const l = local.json<Summary>();
    expect(d.steps).toBe(12);
    expect(d.versions).toEqual({ G: 12, D: 24 });
    expect(l.versions).toEqual(d.versions);
    expect(d.weightsDigest).toBe(l.weightsDigest);
    expect(d.quality.kind).toBe('2d');
  }, 400_000);

  it('--micro-batch reaches the workers: 2 workers in micro-batches reproduce duel local in the same micro-batches bit for bit', async () => {
    // 32 samples per worker in micro-batches of 8: each worker sums 4 micro-batch gradients (the top-k mask spans all 4).
    const common = ['--dataset', 'ring8', '--steps', '12', '--seed', '5', '--batch', '64', '--top-k', '0.5', '--backend', 'wasm', '--json'];
    const dist = await runDuel(['train', '--workers', '2', '--micro-batch', '8', ...common]);
    expect(dist.code, dist.stderr.slice(-3000)).toBe(0);
    const local = await runDuel(['local', '--shards', '2', '--micro-batch', '8', ...common]);
    expect(local.code, local.stderr.slice(-3000)).toBe(0);
    expect(dist.json<Summary>().weightsDigest).toBe(local.json<Summary>().weightsDigest);
    // The same gradients to float rounding, summed in another order: had the workers run whole batches, the digests would differ.
    const whole = await runDuel(['local', '--shards', '2', ...common]);
    expect(whole.code, whole.stderr.slice(-3000)).toBe(0);
    expect(whole.json<Summary>().weightsDigest).not.toBe(local.json<Summary>().weightsDigest);
  }, 400_000);

  it('async mode: 2 workers complete the run with every update applied once', async () => {
    // A worker that the suite's load slows down can come back more than s = 2 updates late and be refused
    // (DUEL_ERR_STALE_VERSION); its position is then issued again (async-scheduler.ts), so the run still applies
    // every step. Before re-issue, such a run once ended at G 19 of 20 (2026-12-05).
    const r = await runDuel(['train', '--mode', 'async', '--workers', '2', '--dataset', 'ring8', '--steps', '20', '--batch', '64', '--staleness', '2', '--backend', 'wasm', '--json']);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const s = r.json<Summary>();
    expect(s.steps).toBe(20);
    expect(s.versions).toEqual({ G: 20, D: 20 });
  }, 400_000);
});
