import { describe, expect, it } from 'vitest';
import { Rng } from '@duel/util';
import { createGaussianMixture } from './gaussian-mixture';
import { grid25, GRID25_CENTRES, GRID25_SIGMA } from './grid25.dataset';
import { ring8, RING8_CENTRES, RING8_SIGMA } from './ring8.dataset';
import type { MixtureDataset } from './gaussian-mixture';

/** Per-axis residual std and per-centre counts of samples assigned to their nearest centre. */
function fit(d: MixtureDataset, pts: Float32Array) {
  const counts = new Array(d.centres.length).fill(0);
  let sx = 0;
  let sy = 0;
  let far = 0;
  const n = pts.length / 2;
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestD = Infinity;
    d.centres.forEach((c, k) => {
      const dd = (pts[2 * i] - c[0]) ** 2 + (pts[2 * i + 1] - c[1]) ** 2;
      if (dd < bestD) [best, bestD] = [k, dd];
    });
    counts[best]++;
    sx += (pts[2 * i] - d.centres[best][0]) ** 2;
    sy += (pts[2 * i + 1] - d.centres[best][1]) ** 2;
    if (Math.sqrt(bestD) > 5 * d.sigma) far++;
  }
  return { counts, stdX: Math.sqrt(sx / n), stdY: Math.sqrt(sy / n), far };
}

describe('ring8', () => {
  it('has PacGAN 2DRing centres (cos 2πk/8, sin 2πk/8) and σ = 0.01', () => {
    expect(RING8_SIGMA).toBe(0.01);
    expect(ring8.sigma).toBe(0.01);
    expect(ring8.centres).toHaveLength(8);
    expect(ring8.centres[0]).toEqual([1, 0]);
    expect(ring8.centres[2][0]).toBeCloseTo(0, 15);
    expect(ring8.centres[2][1]).toBeCloseTo(1, 15);
    expect(ring8.centres[5][0]).toBeCloseTo(-Math.SQRT1_2, 15);
    expect(ring8.centres[5][1]).toBeCloseTo(-Math.SQRT1_2, 15);
    for (const c of RING8_CENTRES) expect(Math.hypot(c[0], c[1])).toBeCloseTo(1, 12);
    expect(ring8).toMatchObject({ name: 'ring8', kind: '2d', shape: [2], size: null });
  });

  it('samples have σ ≈ 0.01 per axis around their centres and cover all 8 evenly', () => {
    const pts = ring8.batch(16000, new Rng(1));
    expect(pts).toHaveLength(32000);
    const f = fit(ring8, pts);
    expect(f.stdX).toBeGreaterThan(0.0097);
    expect(f.stdX).toBeLessThan(0.0103);
    expect(f.stdY).toBeGreaterThan(0.0097);
    expect(f.stdY).toBeLessThan(0.0103);
    expect(f.far).toBe(0);
    for (const c of f.counts) expect(Math.abs(c - 2000)).toBeLessThan(200);
  });
});

describe('grid25', () => {
  it('has centres {-4,-2,0,2,4}² and σ = 0.05', () => {
    expect(GRID25_SIGMA).toBe(0.05);
    expect(grid25.sigma).toBe(0.05);
    expect(GRID25_CENTRES).toHaveLength(25);
    const keys = new Set(GRID25_CENTRES.map((c) => `${c[0]},${c[1]}`));
    for (const x of [-4, -2, 0, 2, 4]) for (const y of [-4, -2, 0, 2, 4]) expect(keys.has(`${x},${y}`)).toBe(true);
  });

  it('samples have σ ≈ 0.05 per axis and cover all 25 centres', () => {
    const f = fit(grid25, grid25.batch(25000, new Rng(2)));
    expect(f.stdX).toBeGreaterThan(0.0485);
    expect(f.stdX).toBeLessThan(0.0515);
    expect(f.stdY).toBeGreaterThan(0.0485);
    expect(f.stdY).toBeLessThan(0.0515);
    for (const c of f.counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });
});

describe('createGaussianMixture', () => {
  it('is deterministic in the rng and differs across seeds', () => {
    expect(ring8.batch(50, new Rng(7))).toEqual(ring8.batch(50, new Rng(7)));
    expect(ring8.batch(50, new Rng(7))).not.toEqual(ring8.batch(50, new Rng(8)));
  });

  it('rejects an empty mixture or a non-positive σ', () => {
    expect(() => createGaussianMixture('x', [], 1)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => createGaussianMixture('x', [[0, 0]], 0)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });
});
