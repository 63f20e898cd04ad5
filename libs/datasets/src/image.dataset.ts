import { DuelError, ErrorCodes, type Rng } from '@duel/util';
import type { FiniteDataset } from './dataset';
import type { IdxArray } from './idx';

export interface ImageDataset extends FiniteDataset {
  readonly kind: 'image';
  /** [H, W, C] */
  readonly shape: readonly [number, number, number];
  /** Raw 8-bit pixels [size, H, W, C]; kept as bytes (47 MB for MNIST train, not 188 MB of floats). */
  readonly pixels: Uint8Array;
}

/** Maps a byte to [-1, 1] the usual DCGAN way (x / 127.5 − 1), so tanh outputs match the data range. */
export function scalePixel(b: number): number {
  return b / 127.5 - 1;
}

/** scalePixel for every byte value; a lookup is cheaper than the division in the gather loop. */
const PIXEL_LUT = Float32Array.from({ length: 256 }, (_, b) => scalePixel(b));

/**
 * An image dataset over 8-bit pixels [count, H, W, C]. Samples come out as
 * floats in [-1, 1], [n, H, W, C] row-major.
 */
export function createImageDataset(opts: {
  name: string;
  pixels: Uint8Array;
  shape: readonly [number, number, number];
  labels?: Uint8Array;
}): ImageDataset {
  const { name, pixels, shape, labels } = opts;
  const per = shape[0] * shape[1] * shape[2];
  if (per === 0 || pixels.length % per !== 0) {
    throw new DuelError(ErrorCodes.DATASET_CORRUPT, `${name}: ${pixels.length} bytes is not a whole number of [${shape}] images`);
  }
  const size = pixels.length / per;
  if (labels && labels.length !== size) {
    throw new DuelError(ErrorCodes.DATASET_CORRUPT, `${name}: ${size} images but ${labels.length} labels`);
  }
  const gather = (indices: ArrayLike<number>): Float32Array => {
    const out = new Float32Array(indices.length * per);
    for (let i = 0; i < indices.length; i++) {
      const idx = indices[i];
      if (!(idx >= 0 && idx < size) || !Number.isInteger(idx)) {
        throw new DuelError(ErrorCodes.BAD_ARGUMENT, `${name}: index ${idx} out of range [0, ${size})`);
      }
      const src = idx * per;
      const dst = i * per;
      for (let j = 0; j < per; j++) out[dst + j] = PIXEL_LUT[pixels[src + j]];
    }
    return out;
  };
  return {
    name,
    kind: 'image',
    shape,
    size,
    pixels,
    labels,
    gather,
    batch(n: number, rng: Rng): Float32Array {
      const idx = new Uint32Array(n);
      for (let i = 0; i < n; i++) idx[i] = rng.int(size);
      return gather(idx);
    },
  };
}

/**
 * An image dataset from parsed IDX arrays: images uint8 [N, H, W] (or [N, H, W, C])
 * and optional labels uint8 [N].
 * @throws DuelError DUEL_ERR_DATASET_CORRUPT when dtypes or counts do not fit.
 */
export function imageDatasetFromIdx(name: string, images: IdxArray, labels?: IdxArray): ImageDataset {
  const d = images.dims;
  if (images.dtype !== 'uint8' || (d.length !== 3 && d.length !== 4)) {
    throw new DuelError(
      ErrorCodes.DATASET_CORRUPT,
      `${name}: images must be uint8 [N, H, W] or [N, H, W, C], got ${images.dtype} [${d}]`,
    );
  }
  if (labels && (labels.dtype !== 'uint8' || labels.dims.length !== 1)) {
    throw new DuelError(ErrorCodes.DATASET_CORRUPT, `${name}: labels must be uint8 [N], got ${labels.dtype} [${labels.dims}]`);
  }
  return createImageDataset({
    name,
    pixels: images.data as Uint8Array,
    shape: [d[1], d[2], d.length === 4 ? d[3] : 1],
    labels: labels?.data as Uint8Array | undefined,
  });
}
