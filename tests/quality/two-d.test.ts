import { describe, expect, it } from 'vitest';
import { runDuel } from '../support/cli';
import { GRID25_STEPS, RING8_HQ_GUARD, RING8_STEPS } from './steps';

/**
 * Mode coverage and sample quality on PacGAN's synthetic benchmarks, trained
 * with `duel local` (the reference trainer) at the README's step counts and
 * otherwise default options. Anchors from PacGAN (Lin et al. 2018) Table 1:
 * plain GAN 6.3 modes / 98.2% HQ on the ring, 17.3 / 94.8% on the grid;
 * PacGAN4 7.8 / 95.9% and 24.8 / 93.6%.
 *
 * The bar (issue 2) is 8/8 with hq ≥ 0.97 on every seed, which this asserts
 * (RING8_HQ_GUARD) at RING8_STEPS = 12000 with the ring8 defaults, printing
 * each value; README.md has the measured table. grid25's bar is asserted below.
 */

interface Quality {
  modes: number;
  modesBalanced: number;
  hq: number;
  reverseKL: number;
}

async function train(dataset: string, steps: number, seed: number): Promise<Quality> {
  const r = await runDuel(['local', '--dataset', dataset, '--steps', String(steps), '--seed', String(seed), '--json'], { timeoutMs: 2_400_000 });
  expect(r.code, r.stderr.slice(-3000)).toBe(0);
  const q = r.json<{ quality: Quality }>().quality;
  process.stderr.write(`[quality] ${dataset} seed ${seed}: ${JSON.stringify(q)}\n`);
  return q;
}

describe.concurrent('ring8 (8 Gaussians, σ = 0.01)', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`seed ${seed}: 8/8 modes and hq ≥ ${RING8_HQ_GUARD}`, async () => {
      const q = await train('ring8', RING8_STEPS, seed);
      expect(q.modes).toBe(8);
      expect(q.hq).toBeGreaterThanOrEqual(RING8_HQ_GUARD);
    });
  }
});

/**
 * grid25 with its defaults (ring8's recipe at unit scale, GRID25_STEPS = 24000):
 * 25/25 modes and hq 0.972 / 0.964 / 0.960 on seeds 1–3 (2026-12-03; README's
 * quality section). The bar is issue 2's: 25/25 and hq ≥ 0.95.
 */
describe.concurrent('grid25 (25 Gaussians, σ = 0.05)', () => {
  for (const seed of [1, 2]) {
    it(`seed ${seed}: 25/25 modes and hq ≥ 0.95`, async () => {
      const q = await train('grid25', GRID25_STEPS, seed);
      expect(q.modes).toBe(25);
      expect(q.hq).toBeGreaterThanOrEqual(0.95);
    });
  }
});
