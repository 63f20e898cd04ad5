import { describe, expect, it } from 'vitest';
import type { NamedWeights } from '@duel/util';
import { DEFAULT_VALIDATION_TOLERANCE, gradientDistance, majority, replicasAgree } from './validation';

const g = (a: number[], b: number[]): NamedWeights => [
  { name: 'w', shape: [a.length], data: Float32Array.from(a) },
  { name: 'b', shape: [b.length], data: Float32Array.from(b) },
];

describe('gradientDistance: ||a − b|| / max(||a||, ||b||, ε) over all tensors', () => {
  const a = g([3, 0, 0], [4]); // ||a|| = 5
  it('is 0 for identical gradients and for two zero gradients', () => {
    expect(gradientDistance(a, g([3, 0, 0], [4]))).toBe(0);
    expect(gradientDistance(g([0, 0, 0], [0]), g([0, 0, 0], [0]))).toBe(0);
  });

  it('measures all tensors at once, relative to the larger norm', () => {
    // a − b = (0, 0, 0 | 1): 1 / max(5, ||b||) with ||b|| = √(9 + 9) ≈ 4.24.
    expect(gradientDistance(a, g([3, 0, 0], [3]))).toBeCloseTo(1 / 5, 12);
    expect(gradientDistance(a, g([3, 0, 0], [5]))).toBeCloseTo(1 / Math.sqrt(34), 12);
  });

  it('is 2 for a sign flip and about 1 for ×100: tampering lands far outside any tolerance', () => {
    expect(gradientDistance(a, g([-3, 0, 0], [-4]))).toBeCloseTo(2, 12);
    expect(gradientDistance(a, g([300, 0, 0], [400]))).toBeCloseTo(0.99, 12);
    expect(replicasAgree(a, g([-3, 0, 0], [-4]), DEFAULT_VALIDATION_TOLERANCE)).toBe(false);
    // A 1% change is caught; float32 backend noise (about 3e-7, tools/backends/replica-distance.ts) is not.
    expect(replicasAgree(a, g([3.03, 0, 0], [4.04]), DEFAULT_VALIDATION_TOLERANCE)).toBe(false);
    expect(replicasAgree(a, g([3 * (1 + 1e-6), 0, 0], [4]), DEFAULT_VALIDATION_TOLERANCE)).toBe(true);
  });

  it('is Infinity (never agrees) for other tensors, shapes or non-finite values', () => {
    expect(gradientDistance(a, g([3, 0], [4]))).toBe(Infinity);
    expect(gradientDistance(a, [a[0]])).toBe(Infinity);
    expect(gradientDistance(a, [a[0], { ...a[1], name: 'c' }])).toBe(Infinity);
    expect(gradientDistance(a, [a[0], { ...a[1], shape: [1, 1] }])).toBe(Infinity);
    expect(gradientDistance(a, g([Number.NaN, 0, 0], [4]))).toBe(Infinity);
    expect(gradientDistance(a, g([Number.POSITIVE_INFINITY, 0, 0], [4]))).toBe(Infinity);
    expect(replicasAgree(a, g([Number.NaN, 0, 0], [4]), 1e9)).toBe(false);
  });
});

describe('majority', () => {
  const honest = g([1, 2, 3], [4]);
  const near = g([1, 2, 3.000001], [4]);
  const flipped = g([-1, -2, -3], [-4]);
  const loud = g([100, 200, 300], [400]);

  it('finds the group that agrees, the earliest member first, when it is large enough', () => {
    expect(majority([flipped, honest, near], 1e-3, 2)).toEqual({ winner: 1, agrees: [1, 2] });
    expect(majority([honest, near], 1e-3, 2)).toEqual({ winner: 0, agrees: [0, 1] });
  });

  it('is null while no group reaches the needed size', () => {
    expect(majority([honest], 1e-3, 2)).toBeNull();
    expect(majority([honest, flipped], 1e-3, 2)).toBeNull();
    expect(majority([honest, flipped, loud], 1e-3, 2)).toBeNull();
    expect(majority([honest, near, flipped], 1e-3, 3)).toBeNull();
  });
});
