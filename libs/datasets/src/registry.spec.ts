import { describe, expect, it, vi } from 'vitest';
import { DuelError, ErrorCodes } from '@duel/util';
import { grid25 } from './grid25.dataset';
import { datasetNames, parseDatasetName, resolveDataset } from './registry';
import { ring8 } from './ring8.dataset';

describe('dataset registry', () => {
  it('lists the five dataset names', () => {
    expect([...datasetNames]).toEqual(['ring8', 'grid25', 'mnist', 'fashion-mnist', 'folder:PATH']);
  });

  it('parses folder:PATH keeping colons in the path', () => {
    expect(parseDatasetName('folder:/data/a:b')).toEqual({ kind: 'folder', path: '/data/a:b' });
    expect(parseDatasetName('fashion-mnist')).toEqual({ kind: 'fashion-mnist' });
  });

  it.each(['ring9', 'MNIST', 'folder:', ''])('rejects %j with UNKNOWN_DATASET listing the names', (name) => {
    let err: unknown;
    try {
      parseDatasetName(name);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DuelError);
    expect((err as DuelError).code).toBe(ErrorCodes.UNKNOWN_DATASET);
    expect((err as DuelError).message).toContain('available: ring8, grid25, mnist, fashion-mnist, folder:PATH');
  });

  it('resolves the built-in 2-D datasets without a loader', async () => {
    await expect(resolveDataset('ring8')).resolves.toBe(ring8);
    await expect(resolveDataset('grid25')).resolves.toBe(grid25);
    await expect(resolveDataset('nope')).rejects.toThrow(/DUEL_ERR_UNKNOWN_DATASET/);
  });

  it('needs a loader for stored datasets and passes it the parsed ref', async () => {
    await expect(resolveDataset('mnist')).rejects.toThrow(/DUEL_ERR_DATASET_MISSING/);
    const loader = vi.fn(() => ring8);
    await expect(resolveDataset('folder:/x', loader)).resolves.toBe(ring8);
    expect(loader).toHaveBeenCalledWith({ kind: 'folder', path: '/x' }, 'folder:/x');
  });
});
