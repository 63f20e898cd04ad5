import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { createImageDataset, type ImageDataset } from '@duel/datasets';
import { DuelError, ErrorCodes } from '@duel/util';
import { parsePgm, type PgmImage } from './pgm';
import type { Split } from './idx-dataset.loader';

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/**
 * Loads `folder:PATH`: every `*.pgm` file directly in the folder (binary P5,
 * 8-bit grayscale, one image each, all the same size; 28×28 for the MNIST
 * models), sorted by file name. No labels. Other image formats are not decoded:
 * convert them first, e.g. `convert in.png -colorspace gray -resize 28x28! out.pgm`.
 *
 * If the folder has `train/` and `test/` subfolders, the split picks one of
 * them; otherwise both splits read the folder itself.
 *
 * @throws DuelError DUEL_ERR_DATASET_MISSING when the folder or its .pgm files are
 *   missing, DUEL_ERR_DATASET_CORRUPT for a bad file or mixed sizes.
 */
export async function loadPgmFolder(path: string, split: Split = 'train', name = `folder:${path}`): Promise<ImageDataset> {
  if (!isDir(path)) {
    throw new DuelError(ErrorCodes.DATASET_MISSING, `${name}: ${path} is not a directory`, { path });
  }
  const dir = isDir(join(path, 'train')) && isDir(join(path, 'test')) ? join(path, split) : path;
  const entries = (await readdir(dir)).sort();
  const files = entries.filter((f) => extname(f).toLowerCase() === '.pgm');
  if (files.length === 0) {
    const others = entries.slice(0, 10).join(', ') + (entries.length > 10 ? ', …' : '');
    throw new DuelError(
      ErrorCodes.DATASET_MISSING,
      `${name}: no .pgm files in ${dir} (found: ${others || 'nothing'}); only binary grayscale PGM (P5) is supported`,
      { dir, found: entries.length },
    );
  }
  const images: PgmImage[] = [];
  // Read in chunks: tens of thousands of open files at once would hit EMFILE.
  for (let i = 0; i < files.length; i += 64) {
    const chunk = files.slice(i, i + 64).map(async (f) => parsePgm(await readFile(join(dir, f)), join(dir, f)));
    images.push(...(await Promise.all(chunk)));
  }
  const { width, height } = images[0];
  const pixels = new Uint8Array(images.length * width * height);
  images.forEach((im, i) => {
    if (im.width !== width || im.height !== height) {
      throw new DuelError(
        ErrorCodes.DATASET_CORRUPT,
        `${name}: ${files[i]} is ${im.width}×${im.height} but ${files[0]} is ${width}×${height}; all images must match`,
      );
    }
    pixels.set(im.pixels, i * width * height);
  });
  return createImageDataset({ name, pixels, shape: [height, width, 1] });
}
