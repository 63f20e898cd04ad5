import { describe, expect, it } from 'vitest';
import { runDuel } from '../support/cli';
import { BYZANTINE, RING8_SHORT } from './steps';

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
 * (RING8_SHORT: 8/8 modes, hq ≥ 0.62 at 2000 steps), and with the plain mean
 * it visibly fails; both are asserted. The robust strategy (BYZANTINE.robust)
 * is the norm screen with its quarantine (strikes=3: the loud attackers, and
 * only they, are quarantined and benched, and what they send between their
 * loud updates goes with them), the history screen (which finds the quiet
 * attacker by what its updates add up to) and a 30%-trimmed mean (Yin et al.
 * 2018). See BYZANTINE in steps.ts for the measurements.
 */
interface Summary {
  quality: { modes: number; hq: number; reverseKL: number };
  steps: number;
  attackers: number;
  workerStats: { id: string; rejected: number; rejectedByCode: Record<string, number>; credit: number }[];
}

async function attacked(strategy: string, attacks: string): Promise<Summary> {
  const { workers, attackers, seed } = BYZANTINE;
  const r = await runDuel(
    ['train', '--dataset', 'ring8', '--workers', String(workers), '--attackers', String(attackers), '--attack', attacks,
      '--attack-z', BYZANTINE.alieZ.toFixed(3), '--strategy', strategy, '--steps', String(RING8_SHORT.steps), '--seed', String(seed), ...RING8_SHORT.args, '--json'],
    // About 10 minutes for two such trainings at once on 2 idle cores (19 for four; ALIE computes 5 gradients a task).
    { timeoutMs: 2_400_000, env: { DUEL_ALLOW_ATTACKS: '1' } },
  );
  expect(r.code, r.stderr.slice(-3000)).toBe(0);
  const s = r.json<Summary>();
  const rejections = s.workerStats.filter((w) => w.rejected > 0).map((w) => `${w.id} ${JSON.stringify(w.rejectedByCode)}`);
  process.stderr.write(`[byzantine] ${strategy} under ${attacks}: ${JSON.stringify(s.quality)}; rejections: ${rejections.join(', ') || 'none'}\n`);
  expect(s.steps).toBe(RING8_SHORT.steps);
  expect(s.attackers).toBe(attackers);
  return s;
}

const meetsBar = (q: Summary['quality']) => q.modes >= RING8_SHORT.modes && q.hq >= RING8_SHORT.hq;

/** Workers with at least one rejection of `code`. */
const flagged = (s: Summary, code: string) => s.workerStats.filter((w) => (w.rejectedByCode[code] ?? 0) > 0);

describe(`ring8 with ${BYZANTINE.attackers} of ${BYZANTINE.workers} workers Byzantine, ${RING8_SHORT.steps} steps`, () => {
  it(`${BYZANTINE.robust} meets the clean bar under ${BYZANTINE.allAttacks}; the plain mean collapses under ${BYZANTINE.attacks}`, async () => {
    // The mixed run has every attack the issue names; the loud ones alone (BYZANTINE.attacks) were measured the
    // same way (steps.ts) and are what the plain mean gets. Both trainings at once, under the same load.
    const [mixed, plain] = await Promise.all([attacked(BYZANTINE.robust, BYZANTINE.allAttacks), attacked('mean', BYZANTINE.attacks)]);
    expect(meetsBar(mixed.quality), JSON.stringify(mixed.quality)).toBe(true);
    // The screen caught loud updates, and exactly the attackers ended in quarantine.
    const stats = JSON.stringify(mixed.workerStats.map((w) => [w.id, w.rejectedByCode]));
    expect(flagged(mixed, 'DUEL_ERR_QUARANTINED'), stats).toHaveLength(BYZANTINE.attackers);
    expect(flagged(mixed, 'DUEL_ERR_OUTLIER'), stats).toHaveLength(BYZANTINE.attackers);
    // Visibly fails: far below the bar.
    expect(meetsBar(plain.quality), JSON.stringify(plain.quality)).toBe(false);
    expect(plain.quality.hq, JSON.stringify(plain.quality)).toBeLessThan(BYZANTINE.meanCeiling);
  }, 2_700_000);

  // ALIE alone never trips the norm screen, so nobody is quarantined and the history screen has to find the
  // attackers; they keep their shards (30% of the data lost). Opt-in (DUEL_QUALITY_ALIE_ONLY=1): it meets the bar
  // by a thin margin (hq 0.659 and 0.629 against 0.62, steps.ts), too thin for CI to gate on.
  it.skipIf(!process.env.DUEL_QUALITY_ALIE_ONLY)(`${BYZANTINE.robust} meets the clean bar under ${BYZANTINE.quiet} alone`, async () => {
    const quiet = await attacked(BYZANTINE.robust, BYZANTINE.quiet);
    expect(meetsBar(quiet.quality), JSON.stringify(quiet.quality)).toBe(true);
    expect(flagged(quiet, 'DUEL_ERR_QUARANTINED')).toHaveLength(0);
  }, 2_700_000);
});
