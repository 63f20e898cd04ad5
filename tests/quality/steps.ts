/** Step counts of the quality runs; README.md states the same numbers. ring8 uses the run-config default. */
export const RING8_STEPS = 8000;
export const GRID25_STEPS = 8000;
export const MNIST_STEPS = 300;
/** Per-seed ring8 HQ floor the CI guard asserts (target 0.97; measured 0.965–0.982 at 8000 steps). */
export const RING8_HQ_GUARD = 0.95;

/**
 * ring8's bar for runs that cannot afford 8000 steps in CI (codecs, Byzantine,
 * chaos): at 2000 steps (the linear learning-rate decay spans the shorter
 * run), 8/8 modes and hq ≥ 0.62, which is where clean fp32 seed 1 stands at
 * step 1500. Measured at 2000 steps, seed 1: `duel local` 8/8, hq 0.745;
 * `duel local --shards 10 --strategy trimmed-mean:beta=0.3:screen=10` 8/8,
 * hq 0.740 (so the robust rule itself costs nothing). A run may lose at most a
 * quarter of its progress to what is tested.
 */
export const RING8_SHORT = { steps: 2000, modes: 8, hq: 0.62 } as const;

/**
 * The Byzantine test (byzantine.test.ts): 10 real worker processes, 3 of them
 * attackers (30%), at RING8_SHORT, seed 1. ALIE's z is z_max(n = 10, f = 3)
 * of Baruch et al. 2019. Measured 2026-11-23 at 2000 steps under all four
 * attacks (sign flip, ×100, noise, ALIE): plain mean 7 modes, hq 0.056; the
 * robust rule 6 modes, hq 0.084. ALIE alone is what defeats the robust rule
 * (simulated in-process: 0 modes at step 500), so the CI test asserts the bar
 * under the three attacks the screen and trimming stop, and the ALIE run is
 * opt-in (DUEL_QUALITY_ALIE=1) until a defence passes it.
 */
export const BYZANTINE = {
  workers: 10,
  attackers: 3,
  seed: 1,
  alieZ: 0.524,
  robust: 'trimmed-mean:beta=0.3:screen=10:direction=0',
  attacks: 'signflip,scale100,noise',
  allAttacks: 'signflip,scale100,noise,alie',
} as const;
