import { describe, expect, it } from 'vitest';
import { createStrategyFromSpec } from '@duel/aggregation';
import { ErrorCodes } from '@duel/util';
import { aggregateResults } from './aggregate-round';
import type { AcceptedResult, WorkerKind } from './types';

const result = (taskId: string, kind: WorkerKind, value: number, batch = 8): AcceptedResult => ({
  taskId,
  workerId: `w-${taskId}`,
  kind,
  shard: 0,
  batch,
  grads: [{ name: 'g', shape: [2], data: Float32Array.from([value, -value]) }],
  stats: { loss: 1, dReal: 0.5, dFake: 0.5, samples: batch, computeMs: 1 },
});

describe('aggregateResults with a strategy per worker kind', () => {
  it('aggregates each kind apart and combines the two by the samples each used', () => {
    const strategy = { node: createStrategyFromSpec('mean'), volunteer: createStrategyFromSpec('trimmed-mean:beta=0.25:screen=10') };
    const rs = [
      result('n1', 'node', 1, 16),
      result('n2', 'node', 3, 16),
      result('v1', 'volunteer', 2),
      result('v2', 'volunteer', 2),
      result('v3', 'volunteer', 2),
      result('v4', 'volunteer', 1e6), // a Byzantine volunteer: screened out as an outlier
    ];
    const out = aggregateResults(strategy, rs);
    // node mean 2 over 32 samples; volunteer trimmed mean 2 over 24 samples → 2.
    expect(out.grads![0].data[0]).toBeCloseTo(2, 5);
    expect(out.used.map((r) => r.taskId)).toEqual(['n1', 'n2', 'v1', 'v2', 'v3']);
    expect(out.rejected).toEqual([{ result: rs[5], code: ErrorCodes.OUTLIER }]);
  });

  it('weights the kinds by samples: 3 node samples at 1, 1 volunteer sample at 5 → 2', () => {
    const strategy = { node: createStrategyFromSpec('mean'), volunteer: createStrategyFromSpec('median') };
    const out = aggregateResults(strategy, [result('n', 'node', 1, 3), result('v', 'volunteer', 5, 1)]);
    expect(out.grads![0].data[0]).toBeCloseTo(2, 6);
  });

  it('a plain mean over every kind is moved arbitrarily far by one attacker (why volunteers get a robust strategy)', () => {
    const out = aggregateResults(createStrategyFromSpec('mean'), [result('n1', 'node', 1), result('v', 'volunteer', 1e6)]);
    expect(out.grads![0].data[0]).toBeGreaterThan(1e5);
  });

  it('rejects non-finite volunteer updates with NON_FINITE and keeps the node aggregate', () => {
    const strategy = { node: createStrategyFromSpec('mean'), volunteer: createStrategyFromSpec('trimmed-mean') };
    const bad = result('v', 'volunteer', Number.NaN);
    const out = aggregateResults(strategy, [result('n', 'node', 4), bad]);
    expect(out.grads![0].data[0]).toBe(4);
    expect(out.rejected).toEqual([{ result: bad, code: ErrorCodes.NON_FINITE }]);
  });
});

describe('aggregateResults: per-worker memory follows the worker, not the task', () => {
  // Each round's results carry fresh taskIds; the strategy's quarantine must still recognise the worker.
  const round = (r: number, evil: number): AcceptedResult[] => [
    ...[1, 2, 3, 4].map((i) => ({ ...result(`t${r}-${i}`, 'node', 1 + i / 100), workerId: `honest-${i}` })),
    { ...result(`t${r}-5`, 'node', evil), workerId: 'evil' },
  ];

  it('quarantines a worker after `strikes` loud results, although every result has a new taskId', () => {
    const strategy = createStrategyFromSpec('trimmed-mean:beta=0.2:screen=10:strikes=2');
    for (let r = 0; r < 2; r++) expect(aggregateResults(strategy, round(r, 1e6)).rejected.map((x) => x.code)).toEqual([ErrorCodes.OUTLIER]);
    // Now it sends a plausible value: refused all the same.
    const out = aggregateResults(strategy, round(2, 1.02));
    expect(out.rejected.map((x) => [x.result.workerId, x.code])).toEqual([['evil', ErrorCodes.QUARANTINED]]);
    expect(out.used.map((x) => x.workerId)).toEqual(['honest-1', 'honest-2', 'honest-3', 'honest-4']);
  });
});
