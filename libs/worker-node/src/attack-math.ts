import { DuelError, ErrorCodes, Rng, type NamedWeights } from '@duel/util';

/**
 * Byzantine attacks, FOR TESTS ONLY (the Byzantine quality test and the
 * strategies' claims). A worker runs them only with `--attack` and
 * DUEL_ALLOW_ATTACKS=1 in its environment. Each returns a new gradient; the
 * honest one is not modified.
 */
export const ATTACKS = ['signflip', 'scale100', 'noise', 'alie'] as const;
export type AttackName = (typeof ATTACKS)[number];

/** −g: pushes the model uphill (e.g. Damaskinos et al. 2019, Allen-Zhu et al. 2021). */
export function signFlip(g: NamedWeights): NamedWeights {
  return map(g, (v) => -v);
}

/** 100·g: one worker dominates an unweighted or sample-weighted mean. */
export function scale100(g: NamedWeights): NamedWeights {
  return map(g, (v) => 100 * v);
}

/** g + N(0, (s·rms(g))²) per coordinate, s = 100 by default: the mean's direction drowns in noise. */
export function gaussianNoise(g: NamedWeights, rng: Rng, s = 100): NamedWeights {
  let sq = 0;
  let n = 0;
  for (const t of g) {
    for (const v of t.data) sq += v * v;
    n += t.data.length;
  }
  const std = s * Math.sqrt(sq / Math.max(1, n));
  return map(g, (v) => v + std * rng.normal());
}

/**
 * "A little is enough" (Baruch, Baruch & Goldberg, NeurIPS 2019): send
 * μ − z·σ per coordinate, where μ and σ are the mean and standard deviation of
 * honest gradients (the attacker estimates them from `samples`, gradients of
 * the same task at other seeds). The shift stays within the honest spread, so
 * median, trimmed mean and Krum do not see it as an outlier.
 */
export function alie(samples: readonly NamedWeights[], z: number): NamedWeights {
  if (samples.length === 0) throw new DuelError(ErrorCodes.BAD_ARGUMENT, 'alie needs at least one gradient sample');
  const k = samples.length;
  return samples[0].map((t, ti) => {
    const out = new Float32Array(t.data.length);
    for (let j = 0; j < out.length; j++) {
      let s = 0;
      for (const g of samples) s += g[ti].data[j];
      const mu = s / k;
      let v = 0;
      for (const g of samples) v += (g[ti].data[j] - mu) ** 2;
      out[j] = mu - z * Math.sqrt(v / Math.max(1, k - 1));
    }
    return { name: t.name, shape: [...t.shape], data: out };
  });
}

/**
 * ALIE's z_max for n workers of which f collude (Baruch et al. 2019, Alg. 3):
 * s = ⌊n/2 + 1⌋ − f workers must be "won over"; z = Φ⁻¹((n − s)/n).
 */
export function alieZ(n: number, f: number): number {
  const s = Math.floor(n / 2 + 1) - f;
  return inverseNormalCdf((n - s) / n);
}

/** Φ⁻¹ by bisection on Φ (erf from Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
export function inverseNormalCdf(p: number): number {
  if (!(p > 0 && p < 1)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `inverseNormalCdf: p must be in (0, 1), got ${p}`);
  let lo = -10;
  let hi = 10;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function normalCdf(x: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(x) / Math.SQRT2));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

/**
 * The attack a Byzantine worker sends for one task: the task's seed, offset
 * by the worker's `offset`, picks one of `attacks` (so a worker with several
 * switches attack task by task). `samples` are honest gradients of the same
 * update on other shards (ALIE only; the worker's own gradient is added).
 */
export function attackFor(attacks: readonly AttackName[], seed: number, offset: number): AttackName {
  return attacks[(seed + offset) % attacks.length];
}

export function applyAttack(attack: AttackName, g: NamedWeights, ctx: { seed: number; offset: number; z: number; samples?: readonly NamedWeights[] }): NamedWeights {
  switch (attack) {
    case 'signflip':
      return signFlip(g);
    case 'scale100':
      return scale100(g);
    case 'noise':
      return gaussianNoise(g, new Rng((ctx.seed ^ (ctx.offset * 0x9e3779b1)) >>> 0));
    case 'alie':
      return alie([g, ...(ctx.samples ?? [])], ctx.z);
  }
}

function map(g: NamedWeights, f: (v: number) => number): NamedWeights {
  return g.map((t) => ({ name: t.name, shape: [...t.shape], data: t.data.map(f) }));
}
