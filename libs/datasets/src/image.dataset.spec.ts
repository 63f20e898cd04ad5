import { describe, expect, it } from 'vitest';
import { Rng } from '@duel/util';
import { createImageDataset, imageDatasetFromIdx, scalePixel } from './image.dataset';

describe('createImageDataset', () => {
  // Two 2×2 grayscale images.
  const pixels = Uint8Array.of(0, 255, 51, 204, 10, 20, 30, 40);
  const ds = createImageDataset({ name: 't', pixels, shape: [2, 2, 1], labels: Uint8Array.of(3, 7) });

  it('scales bytes to [-1, 1] as x / 127.5 − 1', () => {
    expect(scalePixel(0)).toBe(-1);
    expect(scalePixel(255)).toBe(1);
    expect(Array.from(ds.gather([0]))).toEqual([-1, 1, 51 / 127.5 - 1, 204 / 127.5 - 1].map(Math.fround));
  });

  it('gathers [n, H, W, C] in index order, repeats allowed', () => {
    expect(ds).toMatchObject({ kind: 'image', shape: [2, 2, 1], size: 2 });
    const g = ds.gather([1, 0, 1]);
    expect(g).toHaveLength(12);
    expect(g[0]).toBeCloseTo(10 / 127.5 - 1, 6);
    expect(g[4]).toBe(-1);
    expect(g[8]).toBeCloseTo(10 / 127.5 - 1, 6);
  });

  it('rejects out-of-range indices and mismatched labels', () => {
    expect(() => ds.gather([2])).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => ds.gather([-1])).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => createImageDataset({ name: 't', pixels, shape: [2, 2, 1], labels: Uint8Array.of(1) })).toThrow(
      /DUEL_ERR_DATASET_CORRUPT: t: 2 images but 1 labels/,
    );
    expect(() => createImageDataset({ name: 't', pixels, shape: [3, 1, 1] })).toThrow(/DUEL_ERR_DATASET_CORRUPT/);
  });

  it('batch draws with replacement, deterministically in the rng', () => {
    expect(ds.batch(5, new Rng(1))).toEqual(ds.batch(5, new Rng(1)));
    expect(ds.batch(5, new Rng(1))).toHaveLength(20);
  });
});

describe('imageDatasetFromIdx', () => {
  it('maps [N, H, W] uint8 to shape [H, W, 1] with labels', () => {
    const ds = imageDatasetFromIdx(
      'mnist',
      { dtype: 'uint8', dims: [2, 2, 2], data: new Uint8Array(8) },
      { dtype: 'uint8', dims: [2], data: Uint8Array.of(4, 2) },
    );
    expect(ds.shape).toEqual([2, 2, 1]);
    expect(Array.from(ds.labels!)).toEqual([4, 2]);
  });

  it('rejects non-uint8 or wrongly shaped IDX', () => {
    expect(() => imageDatasetFromIdx('x', { dtype: 'float32', dims: [1, 2, 2], data: new Float32Array(4) })).toThrow(
      /DUEL_ERR_DATASET_CORRUPT/,
    );
    expect(() => imageDatasetFromIdx('x', { dtype: 'uint8', dims: [4], data: new Uint8Array(4) })).toThrow(
      /DUEL_ERR_DATASET_CORRUPT/,
    );
    expect(() =>
      imageDatasetFromIdx(
        'x',
        { dtype: 'uint8', dims: [1, 2, 2], data: new Uint8Array(4) },
        { dtype: 'uint8', dims: [1, 1], data: new Uint8Array(1) },
      ),
    ).toThrow(/DUEL_ERR_DATASET_CORRUPT/);
  });
});
