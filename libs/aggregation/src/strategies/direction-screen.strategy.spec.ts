import { describe, expect, it } from 'vitest';
import { ErrorCodes, Rng, cloneWeights, zerosLike, type NamedWeights } from '@duel/util';
import { createStrategy } from '../create-strategy';
import { coordinateMedian } from '../kernels';
import { cosine, directionOutliers, DirectionScreenStrategy, leaveOneOutCosines } from './direction-screen.strategy';
import { NormScreenStrategy } from './norm-screen.strategy';
import { createStrategyFromSpec, parseStrategySpec } from './strategy-spec';
import { filled, relDistance, sampleMean, update } from './strategy-fixtures';

/** Low signal-to-noise gradients, as with small shards: centre c plus N(0, σ²) with σ = 5·|c| per coordinate, many coordinates. */
function lowSnrRound(seed: number, honest: number, flipped: number) {
  const specs = [{ name: 'w', shape: [20_000] }];
  const rng = new Rng(seed);
  const centre = zerosLike(specs);
  rng.fillNormal(centre[0].data);
  const draw = () => {
    const g = cloneWeights(centre);
    for (let j = 0; j < g[0].data.length; j++) g[0].data[j] += 5 * rng.normal();
    return g;
  };
  const h = Array.from({ length: honest }, draw);
  const f = Array.from({ length: flipped }, () => draw().map((t) => ({ ...t, data: t.data.map((v) => -v) })));
  return { centre, honest: h, flipped: f };
}

describe('cosine', () => {
  it('is 1 for the same direction, −1 for the opposite and 0 against zero', () => {
    expect(cosine(filled(2), filled(3))).toBeCloseTo(1, 12);
    expect(cosine(filled(2), filled(-1))).toBeCloseTo(-1, 12);
    expect(cosine(filled(2), filled(0))).toBe(0);
  });
});

describe('leaveOneOutCosines', () => {
  it('equals the cosine with the coordinate-wise median of the others, ties included', () => {
    const rng = new Rng(9);
    for (const n of [3, 4, 7, 10]) {
      const specs = [{ name: 'a', shape: [50] }, { name: 'b', shape: [7] }];
      const gs = Array.from({ length: n }, () => {
        const g = zerosLike(specs);
        // Values on a coarse grid, so ties are common.
        for (const t of g) for (let j = 0; j < t.data.length; j++) t.data[j] = Math.round(rng.normal() * 2) / 2;
        return g;
      });
      const fast = leaveOneOutCosines(gs);
      gs.forEach((g, i) => expect(fast[i]).toBeCloseTo(cosine(g, coordinateMedian(gs.filter((_, o) => o !== i))), 9));
    }
  });
});

describe('directionOutliers', () => {
  it('flags sign-flipped gradients even where, per coordinate, they hide in the honest spread', () => {
    const { honest, flipped } = lowSnrRound(1, 7, 3);
    const { flagged, cosines } = directionOutliers([...honest, ...flipped], 0);
    expect(flagged).toEqual([...honest.map(() => false), ...flipped.map(() => true)]);
    // Per coordinate the honest signal-to-noise is 1/5, so the cosines are small, but signed well beyond
    // their estimation noise (about 1/√20000 = 0.007).
    for (const c of cosines.slice(0, 7)) expect(c).toBeGreaterThan(0.02);
    for (const c of cosines.slice(7)) expect(c).toBeLessThan(-0.02);
  });

  it('flags nothing with fewer than 3 usable updates, and never a malformed one', () => {
    expect(directionOutliers([filled(1), filled(-1)], 0).flagged).toEqual([false, false]);
    const nan = filled(Number.NaN);
    expect(directionOutliers([filled(1), filled(1), filled(1), nan, filled(-1)], 0).flagged).toEqual([false, false, false, false, true]);
  });
});

describe('DirectionScreenStrategy', () => {
  it('rejects the flipped updates as OUTLIER, so the trimmed mean gets the honest signal back', () => {
    const { centre, honest, flipped } = lowSnrRound(2, 7, 3);
    const updates = [...honest.map((g, i) => update(`h${i}`, g)), ...flipped.map((g, i) => update(`byz${i}`, g))];
    const plain = createStrategy('trimmed-mean', { beta: 0.3 }).aggregate(updates)!;
    const s = new DirectionScreenStrategy(createStrategy('trimmed-mean', { beta: 0.3 }), 0);
    const out = s.aggregate(updates)!;
    expect(out.rejected.map((r) => [r.workerId, r.code])).toEqual([0, 1, 2].map((i) => [`byz${i}`, ErrorCodes.OUTLIER]));
    expect(out.used).toEqual(honest.map((_, i) => `h${i}`));
    // Projection on the true centre: the screened aggregate keeps the signal, the plain one loses much of it.
    const along = (g: NamedWeights) => cosine(g, centre) * Math.sqrt(g[0].data.reduce((a, v) => a + v * v, 0));
    const signal = Math.sqrt(centre[0].data.reduce((a, v) => a + v * v, 0));
    expect(along(out.grads) / signal).toBeGreaterThan(0.8);
    expect(along(plain.grads) / signal).toBeLessThan(0.7);
    expect(s.counts()).toMatchObject({ received: 10, rejected: 3, rejectedByCode: { [ErrorCodes.OUTLIER]: 3 } });
  });

  it('leaves honest rounds alone', () => {
    const { honest } = lowSnrRound(3, 10, 0);
    const s = new DirectionScreenStrategy(createStrategy('mean'), 0);
    const out = s.aggregate(honest.map((g, i) => update(`h${i}`, g)))!;
    expect(out.rejected).toEqual([]);
    expect(relDistance(out.grads, sampleMean(honest.map((g, i) => update(`h${i}`, g))))).toBeLessThan(1e-6);
  });

  it('refuses a threshold outside (−1, 1)', () => {
    for (const t of [-1, 1, Number.NaN]) expect(() => new DirectionScreenStrategy(createStrategy('mean'), t)).toThrow(ErrorCodes.BAD_ARGUMENT);
  });

  it('comes from the spec key direction=T, inside the norm screen', () => {
    expect(parseStrategySpec('trimmed-mean:beta=0.3:screen=10:direction=0')).toEqual({ name: 'trimmed-mean', options: { beta: 0.3 }, screen: 10, direction: 0 });
    const s = createStrategyFromSpec('trimmed-mean:beta=0.3:screen=10:direction=0');
    expect(s).toBeInstanceOf(NormScreenStrategy);
    expect((s as NormScreenStrategy).inner).toBeInstanceOf(DirectionScreenStrategy);
    expect(() => createStrategyFromSpec('mean:direction=x')).toThrow(ErrorCodes.BAD_ARGUMENT);
  });
});
