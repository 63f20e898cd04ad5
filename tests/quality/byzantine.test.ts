import { describe, expect, it } from 'vitest';
import { runDuel } from '../support/cli';
import { BYZANTINE, RING8_BYZANTINE, RING8_SHORT } from './steps';

/**
 * 30% Byzantine workers (3 of 10 real `duel worker` processes): the robust
 * strategy with each attacker sending, task by task, one of the sign-flipped
 * gradient, the gradient ×100, the gradient plus Gaussian noise of 100× its
 * RMS and ALIE ("a little is enough", Baruch et al. 2019: μ − zσ per
 * coordinate, inside the honest spread); the plain mean under the three loud
 * attacks; and (opt-in) the robust strategy against ALIE alone, an attacker
 * that is never loud.
 *
 * The bar: with the robust strategy ring8 meets its clean bar
 * (RING8_BYZANTINE: 8/8 modes, hq ≥ 0.75 at 6000 steps), and with the plain mean
 * it visibly fails; both are asserted. The plain mean is trained for
 * RING8_SHORT's 2000 steps, where it collapses (hq 0.056–0.085 in five runs,
 * where the clean run stands at 0.745): over 4000 steps the decaying
 * learning rate lets it creep back once the noise shrinks (hq 0.50 once,
 * still far below the bar), so the shorter run is the sharper check.
 *
 * The robust strategy (BYZANTINE.robust) is the norm screen with its quarantine (strikes=3: the loud attackers, and
 * only they, are quarantined and benched, and what they send between their
 * loud updates goes with them), the history screen (which finds the quiet
 * attacker by what its updates add up to) and a 30%-trimmed mean (Yin et al.
 * 2018). See BYZANTINE in steps.ts for the measurements.
 */
interface Quality {
  modes: number;
  modesBalanced: number;
  hq: number;
  reverseKL: number;
}
interface Summary {
  quality: Quality;
  history?: ({ step: number } & Quality)[];
  steps: number;
  attackers: number;
  workerStats: { id: string; rejected: number; rejectedByCode: Record<string, number>; credit: number }[];
}

async function attacked(strategy: string, attacks: string, steps: number): Promise<Summary> {
  const { workers, attackers, seed } = BYZANTINE;
  const r = await runDuel(
    ['train', '--dataset', 'ring8', '--workers', String(workers), '--attackers', String(attackers), '--attack', attacks,
      '--attack-z', BYZANTINE.alieZ.toFixed(3), '--strategy', strategy, '--steps', String(steps), '--seed', String(seed), ...RING8_BYZANTINE.args,
      // The trajectory goes into the log line, so a run that misses the bar shows where it fell behind (steps.ts).
      '--eval-every', '500', '--json'],
    // About 11 minutes for a 6000-step and a 2000-step training at once on 2 cores (ALIE computes 5 gradients a task).
    { timeoutMs: 2_400_000, env: { DUEL_ALLOW_ATTACKS: '1' } },
  );
  expect(r.code, r.stderr.slice(-3000)).toBe(0);
  const s = r.json<Summary>();
  const rejections = s.workerStats.filter((w) => w.rejected > 0).map((w) => `${w.id} ${JSON.stringify(w.rejectedByCode)}`);
  const trace = (s.history ?? []).map((h) => `${h.step}:${h.modes}/${h.modesBalanced}/${h.hq.toFixed(3)}`).join(' ');
  process.stderr.write(`[byzantine] ${strategy} under ${attacks}: ${JSON.stringify(s.quality)}; rejections: ${rejections.join(', ') || 'none'}; step:modes/balanced/hq ${trace}\n`);
  expect(s.steps).toBe(steps);
  expect(s.attackers).toBe(attackers);
  return s;
}

const meetsBar = (q: Quality, bar: { modes: number; hq: number } = RING8_BYZANTINE) => q.modes >= bar.modes && q.hq >= bar.hq;

/** Workers with at least one rejection of `code`. */
const flagged = (s: Summary, code: string) => s.workerStats.filter((w) => (w.rejectedByCode[code] ?? 0) > 0);

describe(`ring8 with ${BYZANTINE.attackers} of ${BYZANTINE.workers} workers Byzantine`, () => {
  it(`${BYZANTINE.robust} meets the clean bar under ${BYZANTINE.allAttacks} (${RING8_BYZANTINE.steps} steps); the plain mean collapses under ${BYZANTINE.attacks} (${RING8_SHORT.steps} steps)`, async () => {
    // The mixed run has every attack the issue names; the loud ones alone (BYZANTINE.attacks) were measured the
    // same way (steps.ts) and are what the plain mean gets. Both trainings at once, under the same load.
    const [mixed, plain] = await Promise.all([
      attacked(BYZANTINE.robust, BYZANTINE.allAttacks, RING8_BYZANTINE.steps),
      attacked('mean', BYZANTINE.attacks, RING8_SHORT.steps),
    ]);
    expect(meetsBar(mixed.quality), JSON.stringify(mixed.quality)).toBe(true);
    // The screen caught loud updates, and exactly the attackers ended in quarantine.
    const stats = JSON.stringify(mixed.workerStats.map((w) => [w.id, w.rejectedByCode]));
    expect(flagged(mixed, 'DUEL_ERR_QUARANTINED'), stats).toHaveLength(BYZANTINE.attackers);
    expect(flagged(mixed, 'DUEL_ERR_OUTLIER'), stats).toHaveLength(BYZANTINE.attackers);
    // Visibly fails: far below the bar.
    expect(meetsBar(plain.quality, RING8_SHORT), JSON.stringify(plain.quality)).toBe(false);
    expect(plain.quality.hq, JSON.stringify(plain.quality)).toBeLessThan(BYZANTINE.meanCeiling);
  }, 2_700_000);

  // ALIE alone never trips the norm screen, so nobody is quarantined and the history screen has to find the
  // attackers; they keep their shards (30% of the data lost). Opt-in (DUEL_QUALITY_ALIE_ONLY=1): at 2000 steps it
  // met RING8_SHORT's bar by a thin margin (hq 0.659 and 0.629 against 0.62, steps.ts), too thin for CI to gate on;
  // it now runs RING8_BYZANTINE's steps against 0.75: at 4000 steps 0.873 in the one run measured (2026-12-06).
  it.skipIf(!process.env.DUEL_QUALITY_ALIE_ONLY)(`${BYZANTINE.robust} meets the clean bar under ${BYZANTINE.quiet} alone`, async () => {
    const quiet = await attacked(BYZANTINE.robust, BYZANTINE.quiet, RING8_BYZANTINE.steps);
    expect(meetsBar(quiet.quality), JSON.stringify(quiet.quality)).toBe(true);
    expect(flagged(quiet, 'DUEL_ERR_QUARANTINED')).toHaveLength(0);
  }, 2_700_000);
});
