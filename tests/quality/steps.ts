/** Step counts of the quality runs; README.md states the same numbers. ring8 uses the run-config default. */
export const RING8_STEPS = 12000;
/** grid25's run-config default (measured 2026-12-03: 25/25, hq 0.972 / 0.964 / 0.960 on seeds 1–3). */
export const GRID25_STEPS = 24000;
export const MNIST_STEPS = 300;
/**
 * Per-seed ring8 HQ floor the quality suite asserts: issue 2's bar. Measured
 * 2026-12-03 with the defaults (4-D latent, 12000 steps) after the wasm
 * matmul change: 0.978–0.984 on seeds 1–5 (README's quality table; 0.981–0.986
 * on the stock kernel).
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
 * below this bar, where the 2-D latent stands at 0.745.
 */
export const RING8_SHORT = { steps: 2000, modes: 8, hq: 0.62, args: ['--latent-dim', '2'] } as const;

/**
 * The Byzantine test (byzantine.test.ts): 10 real worker processes, 3 of them
 * attackers (30%), at RING8_SHORT's step count, seed 1. ALIE's z is
 * z_max(n = 10, f = 3) of Baruch et al. 2019. Measured 2026-11-23, 2000 steps:
 *
 * - sign flip, ×100, noise: robust 8/8, hq 0.506 and 0.380 (two runs; which
 *   worker draws which attack varies with timing; the clean run: 0.740);
 *   plain mean 8/8, hq 0.096 and 0.085;
 * - with ALIE as well: robust 6 modes, hq 0.084; mean 7, hq 0.056.
 *
 * Re-measured 2026-12-03 after the wasm matmul change (float sums reordered):
 * robust 8/8, hq 0.364 and 0.508; mean 7 modes, hq 0.102 and 0.073 (two
 * `npm run test:quality` runs). With
 * the history screen as well (`…:screen=10:history=6`): 8/8, hq 0.430 under
 * the three loud attacks, 6 modes, hq 0.032 with ALIE. Its rejections there
 * were only the norm screen's (×100 and noise, about 2/3 and 1/2 of each
 * attacker's tasks); an attacker that switches attacks task by task flips or
 * leans only on some of its rounds, too weak a bias per round for the drift
 * score at λ = 0.99 (in a one-process simulation with every round flipped the
 * attackers scored 6–10 against honest 0.9–2.9), so it is not the default.
 *
 * The bar is the clean bar (RING8_SHORT.hq = 0.62): NOT met. With
 * 25-sample shards each coordinate's honest spread is several times its
 * signal, so a sign flip hides inside a trimmed mean and shrinks the signal.
 * Tried and dropped: a cosine screen against the leave-one-out median
 * (FLTrust-style) rejected 26% of honest updates and ended at hq 0.073; worker
 * momentum (El Mhamdi et al. 2021) broke clean GAN training (0 modes at step
 * 500). Until a defence reaches the bar, CI guards what holds, a regression
 * guard set below the measurement and said so: the robust run keeps 8/8 and
 * hq ≥ GUARD_HQ while the plain mean stays below MEAN_CEILING. The ALIE run is
 * opt-in (DUEL_QUALITY_ALIE=1) and asserts the clean bar; it fails today.
 */
export const BYZANTINE = {
  workers: 10,
  attackers: 3,
  seed: 1,
  alieZ: 0.524,
  robust: 'trimmed-mean:beta=0.3:screen=10',
  attacks: 'signflip,scale100,noise',
  allAttacks: 'signflip,scale100,noise,alie',
  guardHq: 0.25,
  meanCeiling: 0.2,
} as const;
