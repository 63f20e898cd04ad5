/** Step counts of the quality runs; README.md states the same numbers. ring8 uses the run-config default. */
export const RING8_STEPS = 12000;
/** grid25's run-config default (measured 2026-12-03: 25/25, hq 0.972 / 0.964 / 0.960 on seeds 1–3). */
export const GRID25_STEPS = 24000;
export const MNIST_STEPS = 300;
/**
 * Per-seed ring8 HQ floor the quality suite asserts: issue 2's bar. Measured
 * with the defaults (4-D latent, 12000 steps): 0.983–0.988 on seeds 1–5 with
 * G's learning rate at 2e-3 (2026-12-07), 0.978–0.984 at 1e-3 (2026-12-03,
 * after the wasm matmul change; README's quality table).
 */
export const RING8_HQ_GUARD = 0.97;

/**
 * ring8's bar for runs that cannot afford the full 12000 steps in CI (Byzantine,
 * chaos): at 2000 steps (the linear learning-rate decay spans the shorter
 * run), 8/8 modes and hq ≥ 0.62, which is where clean fp32 seed 1 stands at
 * step 1500. Measured at 2000 steps, seed 1: `duel local` 8/8, hq 0.745;
 * `duel local --shards 10 --strategy trimmed-mean:beta=0.3:screen=10` 8/8,
 * hq 0.740 (so the robust rule itself costs nothing). A run may lose at most a
 * quarter of its progress to what is tested.
 *
 * These runs keep the 2-D latent (`args`) that every measurement here was
 * taken with: the ring8 default moved to a 4-D latent and 12000 steps on
 * 2026-12-02 (better at 12000 steps, see run-config.ts), but a 4-D latent
 * learns its modes later, and at 2000 steps it stood at hq 0.495 (seed 1),
 * below this bar, where the 2-D latent stands at 0.745. They keep G's
 * learning rate of those measurements too (1e-3): ring8's default moved to
 * 2e-3 on 2026-12-07 (run-config.ts), and these bars, the Byzantine spreads
 * below among them, were not re-measured with it.
 */
export const RING8_SHORT = { steps: 2000, modes: 8, hq: 0.62, args: ['--latent-dim', '2', '--lr-g', '1e-3'] } as const;

/**
 * The Byzantine test's bar (byzantine.test.ts): ring8 at 6000 steps (2-D
 * latent, the linear decay spanning the run), 8/8 modes and hq ≥ 0.75.
 *
 * Why not RING8_SHORT: at 2000 steps hq is still climbing fast and moves a lot
 * with the trajectory (clean `duel local` seed 1 0.729, seed 2 0.872), and an
 * attacked distributed run takes a different trajectory each time (which
 * shards the attackers hold follows the order the workers connect). Nine
 * measured mixed-attack runs at 2000 steps scored 0.482–0.738 against the
 * 0.62 bar, and two of them failed a fresh-clone CI.
 *
 * 4000 steps (2026-12-06 to 12-07) was not enough either. Clean runs there:
 * `duel local --dataset ring8 --latent-dim 2 --lr-g 1e-3 --steps 4000` seeds
 * 1–5 0.910, 0.939, 0.884, 0.952, 0.900; with the robust rule and 10 shards
 * (`--shards 10 --strategy BYZANTINE.robust`, no attackers) seeds 1–6 0.904,
 * 0.895, 0.882, 0.918, 0.887, 0.871, every trajectory rising smoothly. The
 * mixed attack at 4000 steps (seed 1): 0.849, 0.862, 0.885, 0.864, 0.888
 * (fresh clone), 0.851, 0.895, 0.882, and once, in CI on 2026-12-07, 0.638
 * with 8 modes of which 7 balanced: the level a clean run has near step
 * 2000, so that run fell about 2000 steps behind. The cause is not found:
 * the 3 attackers were quarantined after their 3rd outlier as in every run,
 * and no honest update was refused. A loud majority in the first rounds (6
 * of 10 shards sending ×100 or noise for steps 1–3, past the median screen)
 * does not do it in one process: 0.886 and 0.890 against 0.904 clean; nor do
 * quiet attacks before the quarantine (3 of 10 shards sending sign flips or
 * ALIE for the first 10 or 40 steps): 0.889 and 0.909, with hq 0.614 and
 * 0.651 at step 1500 against the clean 0.666. What the traces show is that
 * the mixed runs find their modes at different times: at step 1500 hq
 * 0.294–0.610 (the robust rule's clean seeds: 0.399–0.720), and a late start
 * has less of the decay left to catch up in at 4000 steps. At 6000 steps,
 * two mixed runs (three trainings at once): 0.888 (a late start, hq 0.294 at
 * step 1500, with its attackers holding the same join places as in the
 * failed CI run) and 0.905; as the test runs it, beside the plain mean (631
 * s): 0.910, again after a late start (0.314 at step 1500), and 0.928 in a
 * fresh-clone `.ci/run` (611 s; the plain mean 0.080). The bar stays at
 * 0.75, so it sits further below the mixed runs than it did at 4000 steps,
 * and the test logs every run's trajectory (`--eval-every 500`) so that the
 * next run that misses it shows where it fell behind.
 *
 * 2026-12-07, later: the trimmed mean drops ⌊β·n⌋ values from each end, not
 * ⌈β·n⌉ (kernels.ts `trimCount`). While a loud update is refused a round has
 * 7–9 updates, and ⌈0.3·7⌉ = 3 had left one value per coordinate; ⌊·⌋ keeps 3
 * and is as robust to a share of at most β. One run of this test since:
 * 0.884 (hq 0.405 at step 1500, 0.862 at 4000; 489 s), within the spread
 * above, so no claim that it removes the late starts.
 */
export const RING8_BYZANTINE = { steps: 6000, modes: 8, hq: 0.75, args: RING8_SHORT.args } as const;

/**
 * The Byzantine test (byzantine.test.ts): 10 real worker processes, 3 of them
 * attackers (30%), seed 1: the robust rule at RING8_BYZANTINE's step count, the
 * plain mean at RING8_SHORT's (measurements below at 2000 steps unless said). ALIE's z is
 * z_max(n = 10, f = 3) of Baruch et al. 2019. Each attacker picks its attack
 * task by task from the list.
 *
 * The robust rule: norm screen (10× the round's median), the screen's
 * quarantine (`strikes=3`: a worker whose updates failed the screen 3 times
 * has every later update refused, DUEL_ERR_QUARANTINED, and is benched), the
 * history screen (`history=6`, SafeguardSGD-style drift score) and a
 * 30%-trimmed mean (Yin et al. 2018). Measured 2026-12-03, 2000 steps, seed 1:
 *
 * - distributed (four trainings at once, 1126 s): 8/8, hq 0.656 (signflip,
 *   ×100, noise), 0.723 (with ALIE), 0.659 (ALIE alone: nobody quarantined,
 *   the history screen rejected 3897–3899 of each attacker's ~4000 updates,
 *   no honest one); plain mean 8 modes, 0.074. A fresh-clone `.ci/run` the
 *   same day (three at once, beside the rest of the quality suite): 0.726
 *   (with ALIE), 0.629 (ALIE alone), mean 0.056. ALIE alone clears the bar by
 *   too little for CI to gate on (its attackers keep their shards: 30% of
 *   the data is lost), so that test is opt-in (DUEL_QUALITY_ALIE_ONLY=1).
 * - run to run (session 8, same day): a fresh-clone `.ci/run` measured the
 *   mixed run at 0.567 (the 3 attackers quarantined), below the bar; rerun
 *   two at once right after, 0.714 at that commit and 0.667 at the commit the
 *   0.723 above came from. Which shards the attackers hold follows the order
 *   the workers connect, so the mixed run's spread (0.57–0.74 so far) reaches
 *   below 0.62: 1 of the 6 mixed runs measured so far failed the CI gate.
 *   The file now runs alone (vitest project `byzantine`); its first
 *   fresh-clone `.ci/run` so: 0.738, mean 0.075. Later fresh-clone runs:
 *   0.706, 0.671, 0.482 (2026-12-05, failed CI). That spread is why the
 *   robust run moved to RING8_BYZANTINE's 4000 steps on 2026-12-06.
 * - the same without the history screen (`…:strikes=3`): 0.691 and 0.737
 *   (three trainings at once); before benching (quarantined workers kept
 *   their shards, all their results thrown away) 0.486 and 0.641.
 * - in one process (`duel local --shards 10 --attackers 3`): `…:strikes=3`
 *   0.688 and 0.698; ALIE alone 1 mode, hq 0.0004 without the history
 *   screen, 0.686 with it; no quarantine, no history 0.585; mean 7 modes, 0.046.
 * - distributed, without quarantine or history: hq 0.506, 0.380, 0.364, 0.508,
 *   0.610; with ALIE 6 modes, 0.084. (The history screen's distributed runs
 *   before 2026-12-03 measured the norm screen alone: the coordinator keyed
 *   updates by taskId, so it never saw a worker twice.)
 *
 * Why memory is what works here: with 25-sample shards each coordinate's
 * honest spread is several times its signal, so a sign flip or ALIE inside a
 * trimmed mean cannot be told from noise in any one round. An attacker that
 * is loud even 3 times has given itself away, and its quiet rounds go with
 * it; a quiet one's bias adds up over rounds where honest noise cancels.
 * Tried and dropped: a cosine screen against the leave-one-out median
 * (FLTrust-style) rejected 26% of honest updates, hq 0.073; worker momentum
 * (El Mhamdi et al. 2021) broke clean GAN training.
 */
export const BYZANTINE = {
  workers: 10,
  attackers: 3,
  seed: 1,
  alieZ: 0.524,
  robust: 'trimmed-mean:beta=0.3:screen=10:strikes=3:history=6',
  attacks: 'signflip,scale100,noise',
  allAttacks: 'signflip,scale100,noise,alie',
  /** The quiet attacker: never loud, so never quarantined; left to the history screen. */
  quiet: 'alie',
  meanCeiling: 0.2,
} as const;
