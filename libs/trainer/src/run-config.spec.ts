import { describe, expect, it } from 'vitest';
import { DuelError } from '@duel/util';
import { ganSpecFor, resolveRunConfig, topKShare, type RunConfig } from './run-config';

const codeOf = (f: () => unknown): { code: string; field: unknown } => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DuelError);
    return { code: (e as DuelError).code, field: ((e as DuelError).details as { field?: unknown } | undefined)?.field };
  }
  throw new Error('expected a throw');
};

describe('run config: model-shape fields', () => {
  it('keeps ring8 on the recipe its quality numbers were measured with', () => {
    // Any change here changes every ring8 run's weights (README quality table, equivalence tests).
    expect(resolveRunConfig({ dataset: 'ring8' })).toEqual({
      dataset: 'ring8',
      seed: 1,
      model: 'mlp2d',
      steps: 12000,
      k: 1,
      batchSize: 256,
      loss: 'nonsaturating',
      lrD: 1e-3,
      lrG: 2e-3,
      beta1: 0.5,
      beta2: 0.999,
      lrDecay: 'linear',
      lrFloor: 0.1,
      gEma: 0.995,
      pack: 2,
      minibatchStd: false,
      topK: 1,
      hidden: 128,
      latentDim: 4,
    });
    const spec = ganSpecFor(resolveRunConfig({ dataset: 'ring8' }));
    expect(spec.latentDim).toBe(4);
    expect(spec.generator.input).toEqual([4]);
    expect([...spec.generator.layers, ...spec.discriminator.layers].some((l) => l.type === 'scale')).toBe(false);
  });

  it('gives grid25 nets that work at unit scale: D sees x / 4, G emits 4 ×', () => {
    const cfg = resolveRunConfig({ dataset: 'grid25' });
    expect(cfg.dataScale).toBe(4);
    expect(cfg).toMatchObject({ latentDim: 4, steps: 24000 });
    const spec = ganSpecFor(cfg);
    expect(spec.discriminator.layers[0]).toEqual({ type: 'scale', factor: 0.25 });
    expect(spec.generator.layers.at(-1)).toEqual({ type: 'scale', factor: 4 });
  });

  it('passes hidden, latentDim and dataScale through to the spec', () => {
    const spec = ganSpecFor(resolveRunConfig({ dataset: 'ring8', hidden: 32, latentDim: 5, dataScale: 2 }));
    expect(spec.latentDim).toBe(5);
    expect(spec.generator.input).toEqual([5]);
    expect(spec.generator.layers[0]).toEqual({ type: 'dense', units: 32 });
    expect(spec.discriminator.layers[0]).toEqual({ type: 'scale', factor: 0.5 });
    expect(ganSpecFor(resolveRunConfig({ dataset: 'mnist', latentDim: 64 })).latentDim).toBe(64);
    expect(resolveRunConfig({ dataset: 'ring8', lrFloor: 0.25 }).lrFloor).toBe(0.25);
  });

  it('refuses bad values with BAD_ARGUMENT naming the field, and leaves the input untouched', () => {
    const cases: [Partial<RunConfig>, string][] = [
      [{ hidden: 0 }, 'hidden'],
      [{ hidden: 12.5 }, 'hidden'],
      [{ latentDim: 0 }, 'latentDim'],
      [{ latentDim: 1.5 }, 'latentDim'],
      [{ dataScale: 0 }, 'dataScale'],
      [{ dataScale: -4 }, 'dataScale'],
      [{ dataScale: Number.POSITIVE_INFINITY }, 'dataScale'],
      [{ dataScale: Number.NaN }, 'dataScale'],
      [{ lrFloor: 1.5 }, 'lrFloor'],
      [{ lrFloor: -0.1 }, 'lrFloor'],
      [{ topK: 0 }, 'topK'],
      [{ topK: 1.5 }, 'topK'],
      [{ topK: Number.NaN }, 'topK'],
    ];
    for (const [over, field] of cases) {
      const input = { dataset: 'grid25', ...over };
      const before = JSON.stringify(input);
      expect(codeOf(() => resolveRunConfig(input)), JSON.stringify(over)).toEqual({ code: 'DUEL_ERR_BAD_ARGUMENT', field });
      expect(JSON.stringify(input)).toBe(before);
    }
  });

  it('keeps mlp2d-only fields off other models: dropped when defaulted, refused when asked for', () => {
    const mlp = resolveRunConfig({ dataset: 'grid25', model: 'mlp' });
    expect(mlp.hidden).toBeUndefined();
    expect(mlp.dataScale).toBeUndefined();
    expect(mlp.latentDim).toBeUndefined();
    expect(ganSpecFor(resolveRunConfig({ dataset: 'ring8', model: 'mlp', latentDim: 8 })).latentDim).toBe(8);
    expect(ganSpecFor(mlp).name).toBe('mlp');
    expect(codeOf(() => resolveRunConfig({ dataset: 'mnist', hidden: 64 }))).toEqual({ code: 'DUEL_ERR_BAD_ARGUMENT', field: 'hidden' });
    expect(codeOf(() => resolveRunConfig({ dataset: 'ring8', model: 'dcgan', dataScale: 2 }))).toEqual({ code: 'DUEL_ERR_BAD_ARGUMENT', field: 'dataScale' });
  });
});

describe('run config: top-k share schedule (Sinha et al. 2020)', () => {
  it('anneals linearly from 1 at step 1 to topK at half the run, then holds', () => {
    const cfg = { topK: 0.5, steps: 1000 };
    expect(topKShare(cfg, 1)).toBe(1);
    expect(topKShare(cfg, 251)).toBeCloseTo(0.75, 12);
    expect(topKShare(cfg, 501)).toBe(0.5);
    expect(topKShare(cfg, 1000)).toBe(0.5);
  });

  it('is 1 throughout when off, or when absent from an older saved config', () => {
    expect(topKShare({ topK: 1, steps: 10 }, 7)).toBe(1);
    expect(topKShare({ steps: 10 }, 7)).toBe(1);
  });
});
