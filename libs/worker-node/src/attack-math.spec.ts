import { describe, expect, it } from 'vitest';
import { Rng, type NamedWeights } from '@duel/util';
import { alie, alieZ, gaussianNoise, inverseNormalCdf, scale100, signFlip } from './attack-math';
import { parseAttacks } from './attacker';

const g = (...v: number[]): NamedWeights => [{ name: 'w', shape: [v.length], data: Float32Array.from(v) }];

describe('attacks (test-only)', () => {
  it('sign flip and ×100 return new gradients and leave the honest one alone', () => {
    const h = g(1, -2, 0.5);
    expect(Array.from(signFlip(h)[0].data)).toEqual([-1, 2, -0.5]);
    expect(Array.from(scale100(h)[0].data)).toEqual([100, -200, 50]);
    expect(Array.from(h[0].data)).toEqual([1, -2, 0.5]);
  });

  it('Gaussian noise is 100× the gradient RMS and seeded', () => {
    const h = g(...Array.from({ length: 4000 }, (_, i) => (i % 2 ? 1 : -1)));
    const a = gaussianNoise(h, new Rng(1));
    let sq = 0;
    for (let i = 0; i < 4000; i++) sq += (a[0].data[i] - h[0].data[i]) ** 2;
    expect(Math.sqrt(sq / 4000)).toBeGreaterThan(90);
    expect(Math.sqrt(sq / 4000)).toBeLessThan(110);
    expect(gaussianNoise(h, new Rng(1))[0].data).toEqual(a[0].data);
  });

  it('ALIE sends μ − zσ per coordinate, with z_max of Baruch et al. 2019', () => {
    const out = alie([g(1, 10), g(3, 10)], 1);
    // μ = (2, 10), σ (sample) = (√2, 0)
    expect(out[0].data[0]).toBeCloseTo(2 - Math.SQRT2, 5);
    expect(out[0].data[1]).toBe(10);
    expect(inverseNormalCdf(0.975)).toBeCloseTo(1.96, 2);
    // n = 50, f = 12 (the paper's example): s = 14, z = Φ⁻¹(36/50) ≈ 0.58.
    expect(alieZ(50, 12)).toBeCloseTo(0.583, 2);
    expect(alieZ(10, 3)).toBeCloseTo(0.524, 2);
  });

  it('are refused without DUEL_ALLOW_ATTACKS=1, and unknown names are refused', () => {
    expect(() => parseAttacks('signflip', {})).toThrow(/DUEL_ALLOW_ATTACKS/);
    expect(() => parseAttacks('signflip,bogus', { DUEL_ALLOW_ATTACKS: '1' })).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(parseAttacks('signflip,alie', { DUEL_ALLOW_ATTACKS: '1' })).toEqual(['signflip', 'alie']);
  });
});
