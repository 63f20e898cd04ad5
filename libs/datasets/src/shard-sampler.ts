import { deriveSeed, DuelError, ErrorCodes, Rng } from '@duel/util';
import { isFiniteDataset, type Dataset, type FiniteDataset } from './dataset';

/** Stream tag, so sampler seeds never coincide with other deriveSeed(seed, …) uses. */
const SAMPLER_TAG = 0x5a4d504c; // 'ZMPL'

export interface ShardOptions {
  /** Run seed: the same seed gives the same batches everywhere. */
  seed: number;
  /** This shard, 0 ≤ shard < numShards. */
  shard: number;
  numShards: number;
}

/**
 * Deterministic batches for one shard. `batch(step, n)` is a pure function of
 * (dataset, seed, shard, numShards, step, n), so a worker that reconnects, or a
 * task that is re-sent to another worker, gets exactly the same batch.
 */
export interface ShardSampler {
  readonly dataset: Dataset;
  readonly options: Readonly<ShardOptions>;
  /** Samples of this shard's step-th batch of size n, [n, ...shape]. */
  batch(step: number, n: number): Float32Array;
  /**
   * Finite datasets only: the dataset indices of that batch. Position p of the
   * shard's stream (p = step·n + i) is epoch ⌊p / L⌋, slot p mod L of the shard's
   * block of length L in that epoch's permutation.
   */
  indices(step: number, n: number): Uint32Array;
  /** Samples in this shard's block per epoch (null for generative datasets). */
  readonly shardLength: number | null;
}

/**
 * Creates a sampler for shard `shard` of `numShards`.
 *
 * - Finite datasets: each epoch e draws one permutation of all indices from
 *   Rng(deriveSeed(TAG, seed, e)), the same for every shard. Shard i reads the block
 *   [⌊i·size/k⌋, ⌊(i+1)·size/k⌋) of it, so shards are disjoint within an epoch and
 *   together cover the dataset. A batch that runs past the block end continues in
 *   the next epoch's permutation.
 * - Generative datasets (2-D mixtures): batch (step) is drawn from
 *   Rng(deriveSeed(TAG, seed, shard, step)): independent streams per shard and step.
 *
 * @throws DuelError DUEL_ERR_BAD_ARGUMENT on a bad shard/numShards, or more shards than samples.
 */
export function createShardSampler(dataset: Dataset, options: ShardOptions): ShardSampler {
  const { seed, shard, numShards } = options;
  if (!Number.isInteger(numShards) || numShards < 1 || !Number.isInteger(shard) || shard < 0 || shard >= numShards) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `shard ${shard} of ${numShards}: need integers 0 ≤ shard < numShards`);
  }
  const opts = Object.freeze({ seed, shard, numShards });
  if (!isFiniteDataset(dataset)) {
    return {
      dataset,
      options: opts,
      shardLength: null,
      batch: (step, n) => dataset.batch(n, new Rng(deriveSeed(SAMPLER_TAG, seed, shard, step))),
      indices: () => {
        throw new DuelError(ErrorCodes.BAD_ARGUMENT, `${dataset.name} is generative: it has no indices`);
      },
    };
  }
  return finiteSampler(dataset, opts);
}

function finiteSampler(dataset: FiniteDataset, opts: Readonly<ShardOptions>): ShardSampler {
  const { seed, shard, numShards } = opts;
  const size = dataset.size;
  if (numShards > size) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `${numShards} shards but ${dataset.name} has only ${size} samples`);
  }
  const start = Math.floor((shard * size) / numShards);
  const length = Math.floor(((shard + 1) * size) / numShards) - start;
  // Batches walk epochs in order, so caching the latest permutation makes it one draw per epoch.
  let cachedEpoch = -1;
  let cachedPerm: Uint32Array = new Uint32Array(0);
  const permutation = (epoch: number): Uint32Array => {
    if (epoch !== cachedEpoch) {
      cachedPerm = new Rng(deriveSeed(SAMPLER_TAG, seed, epoch)).permutation(size);
      cachedEpoch = epoch;
    }
    return cachedPerm;
  };
  const indices = (step: number, n: number): Uint32Array => {
    if (!Number.isInteger(step) || step < 0 || !Number.isInteger(n) || n < 0) {
      throw new DuelError(ErrorCodes.BAD_ARGUMENT, `batch(step=${step}, n=${n}): need non-negative integers`);
    }
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const p = step * n + i;
      out[i] = permutation(Math.floor(p / length))[start + (p % length)];
    }
    return out;
  };
  return {
    dataset,
    options: opts,
    shardLength: length,
    indices,
    batch: (step, n) => dataset.gather(indices(step, n)),
  };
}
