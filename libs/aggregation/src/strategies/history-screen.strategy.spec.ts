import { describe, expect, it } from 'vitest';
import { ErrorCodes, Rng, zerosLike, type NamedWeights } from '@duel/util';
import { createStrategy } from '../create-strategy';
import { medianOf } from '../kernels';
import { CountSketch, DriftTracker, driftRatio, HistoryScreenStrategy } from './history-screen.strategy';
import { createStrategyFromSpec, parseStrategySpec } from './strategy-spec';
import { SPECS, itMeetsTheStrategyContract, poisoned, update } from './strategy-fixtures';

/**
 * A drifting GAN-like round: a signal that turns slowly (persistent over tens
 * of rounds) and per-worker noise `noise` times its size per coordinate, the
 * regime of 25-sample shards where no per-round rule can see an attacker.
 */
function rounds(seed: number, n: number, noise = 4) {
  const rng = new Rng(seed);
  const signal = zerosLike(SPECS);
  for (const w of signal) rng.fillNormal(w.data);
  return (t: number) => {
    // Rotate the signal a little each round.
    for (const w of signal) for (let j = 0; j < w.data.length; j++) w.data[j] = 0.98 * w.data[j] + 0.2 * rng.normal();
    const honest = Array.from({ length: n }, () => signal.map((w) => ({ ...w, shape: [...w.shape], data: w.data.map((v) => v + noise * rng.normal()) })));
    return { t, signal, honest };
  };
}

/** ALIE (Baruch et al. 2019) from the honest updates of the round: μ − zσ per coordinate. */
function alieOf(honest: readonly NamedWeights[], z: number): NamedWeights {
  return honest[0].map((t, ti) => {
    const data = new Float32Array(t.data.length);
    for (let j = 0; j < data.length; j++) {
      const v = honest.map((g) => g[ti].data[j]);
      const mu = v.reduce((a, b) => a + b, 0) / v.length;
      const sd = Math.sqrt(v.reduce((a, b) => a + (b - mu) ** 2, 0) / (v.length - 1));
      data[j] = mu - z * sd;
    }
    return { ...t, shape: [...t.shape], data };
  });
}

describe('history screen math', () => {
  it('driftRatio is ‖a − b‖² / s, NaN without a pair sum', () => {
    expect(driftRatio(Float64Array.of(3, 0), Float64Array.of(0, 4), 5)).toBe(5);
    expect(driftRatio(Float64Array.of(1), Float64Array.of(1), 0)).toBeNaN();
    expect(medianOf([3, Number.NaN, 1, 2])).toBe(2);
    expect(medianOf([4, 1, 2, 3])).toBe(2.5);
    expect(medianOf([])).toBeNaN();
  });

  it('a count sketch is the identity for small layouts and keeps norms and sums for large ones', () => {
    const g = zerosLike(SPECS);
    new Rng(1).fillNormal(g[0].data);
    const exact = new Float64Array(28);
    new CountSketch(28, 64).addTo(g, exact);
    expect(Array.from(exact.subarray(0, 20))).toEqual(Array.from(g[0].data));

    const big = [{ name: 'w', shape: [20000], data: new Rng(2).fillNormal(new Float32Array(20000)) }];
    const sk = new CountSketch(20000, 4096);
    const a = new Float64Array(sk.length);
    sk.addTo(big, a);
    const norm2 = (v: ArrayLike<number>) => Array.from(v).reduce((s, x) => s + x * x, 0);
    expect(sk.length).toBe(4096);
    expect(norm2(a) / norm2(big[0].data)).toBeGreaterThan(0.9);
    expect(norm2(a) / norm2(big[0].data)).toBeLessThan(1.1);
    // Linear: sketching the same gradient again doubles the sketch, so its squared norm is 4×.
    const once = norm2(a);
    sk.addTo(big, a);
    expect(norm2(a) / once).toBeCloseTo(4, 9);
  });

  it('scores honest workers about 1 and ALIE or sign-flipping workers far above, where one round shows nothing', () => {
    const next = rounds(3, 7);
    const tracker = new DriftTracker({ forget: 0.99, warmup: 20 });
    let scores: number[] = [];
    for (let t = 0; t < 300; t++) {
      const { honest } = next(t);
      const ups = [
        ...honest.map((g, i) => ({ workerId: `h${i}`, grads: g })),
        { workerId: 'alie-1', grads: alieOf(honest, 0.524) },
        { workerId: 'alie-2', grads: alieOf(honest, 0.524) },
        { workerId: 'flip', grads: honest[0].map((w) => ({ ...w, data: w.data.map((v) => -v) })) },
      ];
      scores = tracker.observe('D', ups);
      if (t < 18) expect(scores.every(Number.isNaN)).toBe(true);
    }
    const [honestScores, attackers] = [scores.slice(0, 7), scores.slice(7)];
    for (const s of honestScores) expect(s).toBeLessThan(3);
    for (const s of attackers) expect(s).toBeGreaterThan(8);
  });

  it('forgets a worker that has left', () => {
    const next = rounds(4, 4);
    const tracker = new DriftTracker({ forget: 0.9 });
    for (let t = 0; t < 10; t++) tracker.observe('G', next(t).honest.map((g, i) => ({ workerId: `w${i}`, grads: g })));
    expect(tracker.tracked('G')).toBe(4);
    for (let t = 0; t < 200; t++) tracker.observe('G', next(t).honest.slice(1).map((g, i) => ({ workerId: `w${i + 1}`, grads: g })));
    expect(tracker.tracked('G')).toBe(3);
  });

  it('refuses bad options with BAD_ARGUMENT', () => {
    for (const o of [{ forget: 1 }, { forget: 0 }, { warmup: 0 }, { buckets: 4 }]) expect(() => new DriftTracker(o), JSON.stringify(o)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => new HistoryScreenStrategy(createStrategy('mean'), { threshold: 1 })).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });
});

describe('HistoryScreenStrategy', () => {
  itMeetsTheStrategyContract(() => new HistoryScreenStrategy(createStrategy('mean'), { threshold: 6 }));

  // As the coordinator calls it, each update's workerId is its taskId (new every round) and `sender` names the worker.
  for (const ids of ['worker ids', 'task ids with a sender'] as const) {
    it(`rejects a persistent attacker as OUTLIER once its history shows, counts it, and keeps every honest worker (${ids})`, () => {
      const next = rounds(5, 7);
      const s = new HistoryScreenStrategy(createStrategy('trimmed-mean', { beta: 0.3 }), { threshold: 6 });
      const upd = (worker: string, t: number, g: NamedWeights) => (ids === 'worker ids' ? update(worker, g) : { ...update(`task-${t}-${worker}`, g), sender: worker });
      let honestRejected = 0;
      let attackerRejected = 0;
      for (let t = 0; t < 300; t++) {
        const { honest } = next(t);
        const out = s.aggregate(
          [...honest.map((g, i) => upd(`h${i}`, t, g)), upd('alie-1', t, alieOf(honest, 0.524)), upd('alie-2', t, alieOf(honest, 0.524))],
          [],
        )!;
        for (const r of out.rejected) {
          expect(r.code).toBe(ErrorCodes.OUTLIER);
          if (r.workerId.includes('-h') || r.workerId.startsWith('h')) honestRejected++;
          else attackerRejected++;
        }
        if (t === 299) expect(out.used).toEqual(honest.map((_, i) => upd(`h${i}`, t, honest[i]).workerId));
      }
      expect(honestRejected).toBe(0);
      expect(attackerRejected).toBeGreaterThan(2 * 200);
      expect(s.counts().rejectedByCode[ErrorCodes.OUTLIER]).toBe(attackerRejected);
    });
  }

  it('leaves a non-finite update to the inner strategy (NON_FINITE), out of the history', () => {
    const next = rounds(6, 4);
    const s = new HistoryScreenStrategy(createStrategy('mean'), { threshold: 6 });
    const honest = next(0).honest.map((g, i) => update(`h${i}`, g));
    const out = s.aggregate([...honest, poisoned(honest[0], 'nan')], [])!;
    expect(out.rejected).toEqual([expect.objectContaining({ workerId: 'nan', code: ErrorCodes.NON_FINITE })]);
    expect(Object.keys(s.lastScores)).toEqual(['h0', 'h1', 'h2', 'h3']);
  });
});

describe('history in strategy specs', () => {
  it('wraps the strategy, under the norm screen', () => {
    expect(parseStrategySpec('trimmed-mean:beta=0.3:screen=10:history=6:forget=0.98')).toEqual({
      name: 'trimmed-mean',
      options: { beta: 0.3 },
      screen: 10,
      history: 6,
      forget: 0.98,
    });
    expect(createStrategyFromSpec('trimmed-mean:beta=0.3:screen=10:history=6').name).toBe('trimmed-mean+history+screen');
    expect(createStrategyFromSpec('median:history=4').name).toBe('median+history');
  });

  it('refuses forget without history, a threshold of 1 or less, and a non-number', () => {
    for (const bad of ['mean:forget=0.9', 'mean:history=1', 'mean:history=x', 'mean:history=6:forget=2']) {
      expect(() => createStrategyFromSpec(bad), bad).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    }
  });
});
