import { describe, expect, it, vi } from 'vitest';
import { resolveRunConfig } from '@duel/trainer';
import { parse } from './args';
import { microBatchArgs, microBatchFrom, runConfigFlags, runConfigFrom } from './run-config.flags';

const fromArgv = (argv: string[]) => runConfigFrom(parse(argv, runConfigFlags));

describe('run-config flags', () => {
  it('maps the model-shape and schedule flags onto RunConfig fields', () => {
    const p = fromArgv(['--dataset', 'grid25', '--hidden', '256', '--latent-dim', '3', '--data-scale', '2.5', '--lr-floor', '0.2']);
    expect(p).toMatchObject({ dataset: 'grid25', hidden: 256, latentDim: 3, dataScale: 2.5, lrFloor: 0.2 });
    const cfg = resolveRunConfig(p);
    expect([cfg.hidden, cfg.latentDim, cfg.dataScale, cfg.lrFloor]).toEqual([256, 3, 2.5, 0.2]);
  });

  it('leaves absent flags to the dataset defaults', () => {
    const p = fromArgv(['--dataset', 'ring8']);
    expect([p.hidden, p.latentDim, p.dataScale, p.lrFloor]).toEqual([undefined, undefined, undefined, undefined]);
    expect(resolveRunConfig(p)).toEqual(resolveRunConfig({ dataset: 'ring8' }));
  });

  it('refuses non-numbers and out-of-range values with BAD_ARGUMENT', () => {
    expect(() => fromArgv(['--hidden', 'wide'])).toThrow(/DUEL_ERR_BAD_ARGUMENT: --hidden must be a number/);
    expect(() => fromArgv(['--data-scale', 'x'])).toThrow(/DUEL_ERR_BAD_ARGUMENT: --data-scale/);
    expect(() => resolveRunConfig(fromArgv(['--latent-dim', '0']))).toThrow(/DUEL_ERR_BAD_ARGUMENT: latentDim/);
    expect(() => resolveRunConfig(fromArgv(['--data-scale=-1']))).toThrow(/DUEL_ERR_BAD_ARGUMENT: dataScale/);
    expect(() => resolveRunConfig(fromArgv(['--lr-floor', '2']))).toThrow(/DUEL_ERR_BAD_ARGUMENT: lrFloor/);
  });
});

describe('--micro-batch', () => {
  const ring8 = resolveRunConfig({ dataset: 'ring8' }); // pack 2
  it('takes a positive multiple of the pack, and passes it on to spawned workers', () => {
    expect(microBatchFrom(undefined, ring8)).toBeUndefined();
    expect(microBatchFrom('64', ring8)).toBe(64);
    expect(microBatchArgs('64', ring8)).toEqual(['--micro-batch', '64']);
    expect(microBatchArgs(undefined, ring8)).toEqual([]);
  });

  it('refuses anything else with BAD_ARGUMENT, before any worker is spawned', () => {
    for (const v of ['3', '0', '-2', '2.5', 'x']) expect(() => microBatchArgs(v, ring8)).toThrow(/DUEL_ERR_BAD_ARGUMENT: --micro-batch/);
    expect(() => microBatchFrom('3', ring8)).toThrow(/not a positive multiple of the pack \(2 samples\)/);
    expect(microBatchFrom('3', resolveRunConfig({ dataset: 'ring8', pack: 1 }))).toBe(3);
  });

  it('says on stderr when the run\'s D (minibatch std) runs every batch whole', () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(microBatchFrom('64', ring8)).toBe(64);
      expect(err).not.toHaveBeenCalled();
      expect(microBatchFrom('64', resolveRunConfig({ dataset: 'ring8', minibatchStd: true }))).toBe(64);
      expect(err).toHaveBeenCalledWith(expect.stringMatching(/--micro-batch 64 ignored: D has a minibatch-std layer/));
    } finally {
      err.mockRestore();
    }
  });
});
