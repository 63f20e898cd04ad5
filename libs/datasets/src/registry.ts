import { DuelError, ErrorCodes } from '@duel/util';
import type { Dataset } from './dataset';
import { grid25 } from './grid25.dataset';
import { ring8 } from './ring8.dataset';

/** Every dataset name the CLI and config accept; `folder:PATH` takes any path. */
export const datasetNames = ['ring8', 'grid25', 'mnist', 'fashion-mnist', 'folder:PATH'] as const;

/** A parsed dataset name. */
export type DatasetRef =
  | { kind: 'ring8' }
  | { kind: 'grid25' }
  | { kind: 'mnist' }
  | { kind: 'fashion-mnist' }
  | { kind: 'folder'; path: string };

/**
 * Loads the stored datasets (MNIST, Fashion-MNIST, folders) on a given platform;
 * in Node that is `loadDataset` from @duel/datasets-node.
 */
export type DatasetLoader = (ref: DatasetRef, name: string) => Dataset | Promise<Dataset>;

/**
 * Parses and checks a dataset name without loading anything, so a bad name fails at start-up.
 * @throws DuelError DUEL_ERR_UNKNOWN_DATASET listing the available names.
 */
export function parseDatasetName(name: string): DatasetRef {
  switch (name) {
    case 'ring8':
    case 'grid25':
    case 'mnist':
    case 'fashion-mnist':
      return { kind: name };
  }
  if (name.startsWith('folder:') && name.length > 'folder:'.length) {
    return { kind: 'folder', path: name.slice('folder:'.length) };
  }
  throw new DuelError(
    ErrorCodes.UNKNOWN_DATASET,
    `unknown dataset "${name}"; available: ${datasetNames.join(', ')}`,
    { name, available: [...datasetNames] },
  );
}

/**
 * Returns the dataset for `name`. ring8 and grid25 are built in; the others are
 * files, so they need a platform `loader`.
 * @throws DuelError DUEL_ERR_UNKNOWN_DATASET for an unknown name, DUEL_ERR_DATASET_MISSING
 *   for a stored dataset without a loader.
 */
export async function resolveDataset(name: string, loader?: DatasetLoader): Promise<Dataset> {
  const ref = parseDatasetName(name);
  if (ref.kind === 'ring8') return ring8;
  if (ref.kind === 'grid25') return grid25;
  if (!loader) {
    throw new DuelError(
      ErrorCodes.DATASET_MISSING,
      `dataset "${name}" is stored in files and needs a loader (in Node: loadDataset from @duel/datasets-node)`,
      { name },
    );
  }
  return loader(ref, name);
}
