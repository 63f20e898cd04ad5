import { Rng, type NamedWeights } from '@duel/util';
import { describe, expect, it } from 'vitest';
import type { CodecSpec } from './codec-spec';
import { decodeTensorInto } from './coded-tensors';
import { compressWithFeedback, zeroResidual } from './error-feedback';

const SHAPES = [[64, 32], [32], [7, 3]];

function gradient(rng: Rng, step: number): NamedWeights {
  // A persistent mean (what training follows) plus noise, with a scale that drifts over time.
  return SHAPES.map((shape, k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = 0.01 * Math.sin(i + k) + rng.normal() * 0.05 * (1 + 0.5 * Math.sin(step / 50));
    return { name: `t${k}`, shape, data };
  });
}

function maxAbs(xs: Float32Array[]): number {
  let m = 0;
  for (const x of xs) for (const v of x) m = Math.max(m, Math.abs(v));
  return m;
}

/** Runs `steps` of error-feedback compression; returns the residual's max over time and the sums. */
function run(codec: CodecSpec, steps: number) {
  const rng = new Rng(42);
  const residual = zeroResidual(SHAPES.map((shape) => ({ shape })));
  const sumTrue = SHAPES.map((s) => new Float64Array(s.reduce((a, b) => a * b, 1)));
  const sumSent = sumTrue.map((s) => new Float64Array(s.length));
  const residualMax: number[] = [];
  let gradMax = 0;
  for (let t = 0; t < steps; t++) {
    const g = gradient(rng, t);
    gradMax = Math.max(gradMax, maxAbs(g.map((x) => x.data)));
    const wire = compressWithFeedback(g, residual, codec);
    wire.forEach((w, k) => {
      const sent = decodeTensorInto(codec.name, w, new Float32Array(sumTrue[k].length));
      for (let i = 0; i < sent.length; i++) {
        sumSent[k][i] += sent[i];
        sumTrue[k][i] += g[k].data[i];
      }
    });
    residualMax.push(maxAbs(residual));
  }
  // Largest gap between Σ sent and Σ true, per coordinate.
  let gap = 0;
  sumTrue.forEach((s, k) => s.forEach((v, i) => (gap = Math.max(gap, Math.abs(v - sumSent[k][i])))));
  return { residualMax, gap, gradMax, residualEnd: residualMax[residualMax.length - 1] };
}

describe('error feedback', () => {
  it('int8: the residual stays within max|g|/253 for 2000 steps, and Σ sent tracks Σ true within it', () => {
    const r = run({ name: 'int8' }, 2000);
    expect(Math.max(...r.residualMax)).toBeLessThanOrEqual((r.gradMax / 253) * 1.001);
    // Σ sent = Σ true − r_T, up to float32 rounding of the running residual.
    expect(r.gap).toBeLessThanOrEqual(r.residualEnd + 1e-4);
    expect(r.gap / 2000).toBeLessThan(1e-6);
  });

  it('topk (10%): the residual is bounded and does not grow, and the average sent converges to the average true gradient', () => {
    const r = run({ name: 'topk', ratio: 0.1 }, 2000);
    const early = Math.max(...r.residualMax.slice(200, 1000));
    const late = Math.max(...r.residualMax.slice(1000));
    expect(late).toBeLessThan(early * 1.5);
    // Without feedback the dropped 90% would be lost for good: Σ true − Σ sent would grow like t.
    expect(r.gap).toBeLessThanOrEqual(late + 1e-3);
    expect(r.gap / 2000).toBeLessThan(r.gradMax / 1000);
  });

  it('fp16: the residual stays at fp16 rounding level', () => {
    const r = run({ name: 'fp16' }, 300);
    expect(Math.max(...r.residualMax)).toBeLessThan(r.gradMax * 2 ** -10);
  });

  it('fp32 sends the gradient itself and leaves the residual at 0', () => {
    const g = gradient(new Rng(1), 0);
    const residual = zeroResidual(g);
    const wire = compressWithFeedback(g, residual, { name: 'fp32' });
    wire.forEach((w, k) => expect(w.data).toBe(g[k].data));
    expect(maxAbs(residual)).toBe(0);
  });

  it('refuses a residual of another layout (SHAPE_MISMATCH)', () => {
    const g = gradient(new Rng(1), 0);
    expect(() => compressWithFeedback(g, zeroResidual(g.slice(1)), { name: 'int8' })).toThrow(/DUEL_ERR_SHAPE_MISMATCH/);
  });
});
