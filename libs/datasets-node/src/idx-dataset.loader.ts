import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { imageDatasetFromIdx, type IdxArray, type ImageDataset } from '@duel/datasets';
import { DuelError, ErrorCodes } from '@duel/util';
import { readIdxFile } from './idx-file';

export type Split = 'train' | 'test';

/** LeCun's file names, shared by MNIST and Fashion-MNIST (which copies the layout on purpose). */
const FILES: Record<Split, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

// Parsed files by path: the coordinator and in-process workers load the same 47 MB once.
const cache = new Map<string, Promise<IdxArray>>();

/** Forgets cached IDX files (tests, or to free memory). */
export function clearIdxCache(): void {
  cache.clear();
}

function cachedIdx(path: string): Promise<IdxArray> {
  let p = cache.get(path);
  if (!p) {
    p = readIdxFile(path);
    cache.set(path, p);
    p.catch(() => cache.delete(path));
  }
  return p;
}

/** `base` or `base.gz` inside dir, whichever exists. */
function findFile(dir: string, base: string, name: string, hint: string): string {
  for (const f of [base, `${base}.gz`]) {
    const p = join(dir, f);
    if (existsSync(p)) return p;
  }
  const present = existsSync(dir) ? readdirSync(dir).sort() : null;
  throw new DuelError(
    ErrorCodes.DATASET_MISSING,
    `${name}: ${base}[.gz] not found in ${dir}` +
      (present ? ` (it holds: ${present.join(', ') || 'nothing'})` : ' (no such directory)') +
      (hint ? `; ${hint}` : ''),
    { dir, expected: base, present },
  );
}

/**
 * Loads an MNIST-layout dataset (images + labels IDX files, raw or .gz) from `dir`.
 * @param hint appended to "missing" errors, e.g. how to install the files.
 */
export async function loadIdxImageDataset(opts: {
  name: string;
  dir: string;
  split: Split;
  hint?: string;
}): Promise<ImageDataset> {
  const { name, dir, split, hint = '' } = opts;
  const files = FILES[split];
  if (!files) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `${name}: split must be 'train' or 'test', got ${split}`);
  const imagesPath = findFile(dir, files.images, name, hint);
  const labelsPath = findFile(dir, files.labels, name, hint);
  const [images, labels] = await Promise.all([cachedIdx(imagesPath), cachedIdx(labelsPath)]);
  if (images.dims[0] !== labels.dims[0]) {
    throw new DuelError(
      ErrorCodes.DATASET_CORRUPT,
      `${name}: ${imagesPath} has ${images.dims[0]} images but ${labelsPath} has ${labels.dims[0]} labels`,
    );
  }
  return imageDatasetFromIdx(name, images, labels);
}
