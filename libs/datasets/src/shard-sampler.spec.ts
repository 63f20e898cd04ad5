import { describe, expect, it } from 'vitest';
import { createImageDataset } from './image.dataset';
import { ring8 } from './ring8.dataset';
import { createShardSampler } from './shard-sampler';

// 103 one-pixel images whose single byte is their own index, so samples reveal indices.
const SIZE = 103;
const ds = createImageDataset({ name: 'ids', pixels: Uint8Array.from({ length: SIZE }, (_, i) => i), shape: [1, 1, 1] });
const toIndex = (x: number) => Math.round((x + 1) * 127.5);

describe('createShardSampler (finite)', () => {
  it('gives the same batches for the same seed, shard and step', () => {
    const a = createShardSampler(ds, { seed: 5, shard: 1, numShards: 3 });
    const b = createShardSampler(ds, { seed: 5, shard: 1, numShards: 3 });
    for (const step of [0, 1, 7, 40]) expect(b.batch(step, 8)).toEqual(a.batch(step, 8));
    // Random access equals the sequential walk, whatever the call order.
    expect(a.batch(3, 8)).toEqual(createShardSampler(ds, { seed: 5, shard: 1, numShards: 3 }).batch(3, 8));
    expect(createShardSampler(ds, { seed: 6, shard: 1, numShards: 3 }).batch(0, 8)).not.toEqual(a.batch(0, 8));
  });

  it('batch() returns the samples at indices()', () => {
    const s = createShardSampler(ds, { seed: 1, shard: 0, numShards: 2 });
    expect(Array.from(s.batch(2, 5), toIndex)).toEqual(Array.from(s.indices(2, 5)));
  });

  it('splits every epoch into disjoint shards that cover the dataset', () => {
    const k = 4;
    const seen = new Map<number, number>();
    let total = 0;
    for (let shard = 0; shard < k; shard++) {
      const s = createShardSampler(ds, { seed: 9, shard, numShards: k });
      const len = s.shardLength!;
      total += len;
      const epoch0 = s.indices(0, len);
      expect(new Set(epoch0).size).toBe(len);
      for (const i of epoch0) seen.set(i, (seen.get(i) ?? 0) + 1);
    }
    expect(total).toBe(SIZE);
    expect(seen.size).toBe(SIZE);
    expect([...seen.values()].every((c) => c === 1)).toBe(true);
  });

  it('reshuffles per epoch: epoch 1 visits the block of a new permutation', () => {
    const s = createShardSampler(ds, { seed: 2, shard: 0, numShards: 1 });
    const e0 = s.indices(0, SIZE);
    const e1 = s.indices(1, SIZE);
    expect([...e0].sort((a, b) => a - b)).toEqual([...e1].sort((a, b) => a - b));
    expect(Array.from(e1)).not.toEqual(Array.from(e0));
  });

  it('continues into the next epoch when a batch crosses the block end', () => {
    const s = createShardSampler(ds, { seed: 3, shard: 1, numShards: 2 });
    const len = s.shardLength!;
    const twoEpochs = s.indices(0, 2 * len);
    const step = createShardSampler(ds, { seed: 3, shard: 1, numShards: 2 }).indices(1, len - 1);
    expect(Array.from(step)).toEqual(Array.from(twoEpochs.subarray(len - 1, 2 * len - 2)));
  });

  it('rejects bad shard arguments', () => {
    expect(() => createShardSampler(ds, { seed: 0, shard: 3, numShards: 3 })).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => createShardSampler(ds, { seed: 0, shard: -1, numShards: 3 })).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => createShardSampler(ds, { seed: 0, shard: 0, numShards: 0 })).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => createShardSampler(ds, { seed: 0, shard: 0, numShards: SIZE + 1 })).toThrow(/only 103 samples/);
    expect(() => createShardSampler(ds, { seed: 0, shard: 0, numShards: 1 }).batch(-1, 2)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });
});

describe('createShardSampler (generative)', () => {
  it('is deterministic per (seed, shard, step) and independent across shards and steps', () => {
    const s0 = createShardSampler(ring8, { seed: 11, shard: 0, numShards: 2 });
    const s1 = createShardSampler(ring8, { seed: 11, shard: 1, numShards: 2 });
    expect(s0.shardLength).toBeNull();
    expect(s0.batch(4, 16)).toEqual(createShardSampler(ring8, { seed: 11, shard: 0, numShards: 2 }).batch(4, 16));
    expect(s1.batch(4, 16)).not.toEqual(s0.batch(4, 16));
    expect(s0.batch(5, 16)).not.toEqual(s0.batch(4, 16));
    expect(s0.batch(4, 16)).toHaveLength(32);
    expect(() => s0.indices(0, 1)).toThrow(/generative/);
  });
});
