import { describe, expect, it } from 'vitest';
import { RunRecorder } from './run-recorder';

describe('RunRecorder ledger', () => {
  it('counts results, accepted and rejected by code, and grants credit only for applied work', () => {
    const r = new RunRecorder();
    r.join('w-1', 'volunteer', 'wasm', 'chrome');
    for (let i = 0; i < 4; i++) r.received('w-1');
    r.ack('w-1', 'rejected', 'DUEL_ERR_NON_FINITE');
    r.ack('w-1', 'rejected', 'DUEL_ERR_OUTLIER');
    r.ack('w-1', 'duplicate', 'DUEL_ERR_DUPLICATE');
    r.ack('w-1', 'applied');
    r.contributed('w-1', 64, 1000);
    const [w] = r.workers(['w-1'], 1000);
    expect(w).toMatchObject({ results: 4, accepted: 1, rejected: 2, credit: 64, samples: 64, rejectedByCode: { DUEL_ERR_NON_FINITE: 1, DUEL_ERR_OUTLIER: 1 } });
  });

  it('keeps a worker\'s ledger across a reconnect with the same id', () => {
    const r = new RunRecorder();
    r.join('w-2', 'node', 'cpu', 'x');
    r.ack('w-2', 'applied');
    r.contributed('w-2', 10);
    r.leave('w-2');
    r.join('w-2', 'node', 'cpu', 'x');
    expect(r.workers(['w-2'])[0]).toMatchObject({ accepted: 1, credit: 10 });
  });
});

describe('RunRecorder.restore (the metrics history after a resume)', () => {
  const point = (step: number, t = step * 1000) => ({ t, step, dLoss: 1.3 + step / 100, gLoss: 0.7, dReal: 0.6, dFake: 0.4, imgsPerSec: 900 });

  it('puts the stored points back, drops those past the checkpoint, and goes on appending after them', () => {
    const r = new RunRecorder();
    r.restore([1, 2, 3, 4, 5].map((s) => point(s)), 4);
    expect(r.history.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    expect(r.history[3]).toEqual(point(4));
    // The latest metrics are the checkpoint's, with no throughput until this process sees some.
    expect(r.latest).toEqual({ step: 4, dLoss: 1.34, gLoss: 0.7, dReal: 0.6, dFake: 0.4, imgsPerSec: 0 });
    r.metrics({ phase: 'D', step: 5, loss: 1.1, dReal: 0.55, dFake: 0.45, samples: 64 }, 9000);
    r.metrics({ phase: 'G', step: 5, loss: 0.8, dReal: 0.55, dFake: 0.45, samples: 64 }, 9001);
    expect(r.history.map((p) => [p.step, p.t])).toEqual([[1, 1000], [2, 2000], [3, 3000], [4, 4000], [5, 9001]]);
  });

  it('lets redone steps replace the ones a crash lost, and a later run on the same store replace an earlier one', () => {
    const crash = new RunRecorder();
    // Steps 1-6, a crash after the checkpoint at 4, steps 5-7 redone by the resumed run, resumed again from 7.
    crash.restore([...[1, 2, 3, 4, 5, 6].map((s) => point(s)), ...[5, 6, 7].map((s) => point(s, 50_000 + s))], 7);
    expect(crash.history.map((p) => [p.step, p.t])).toEqual([[1, 1000], [2, 2000], [3, 3000], [4, 4000], [5, 50_005], [6, 50_006], [7, 50_007]]);

    const reused = new RunRecorder();
    reused.restore([...[1, 2, 3, 4, 5, 6].map((s) => point(s)), ...[1, 2].map((s) => point(s, 90_000 + s))], 2);
    expect(reused.history.map((p) => p.t)).toEqual([90_001, 90_002]);
  });

  it('fills what an older point lacks with null, and keeps no more than its bound', () => {
    const r = new RunRecorder();
    r.restore([{ t: 5, step: 1, gLoss: 0.69, dFake: 0.5, samples: 64 }], 1);
    expect(r.history).toEqual([{ t: 5, step: 1, dLoss: null, gLoss: 0.69, dReal: null, dFake: 0.5, imgsPerSec: 0 }]);
    const many = new RunRecorder();
    many.restore(Array.from({ length: 2500 }, (_, i) => point(i + 1)), 2500);
    expect(many.history).toHaveLength(2000);
    expect(many.history[0].step).toBe(501);
    expect(many.latest.step).toBe(2500);
  });

  it('with nothing stored, only sets the step', () => {
    const r = new RunRecorder();
    r.restore([], 12);
    expect(r.history).toEqual([]);
    expect(r.latest).toEqual({ step: 12, dLoss: null, gLoss: null, dReal: null, dFake: null, imgsPerSec: 0 });
  });
});

describe('RunRecorder rates', () => {
  it('equal the samples of the last 10 s over their span, overall and per worker, as a naive filter computes them', () => {
    const r = new RunRecorder();
    const log: { t: number; n: number; id?: string }[] = [];
    const naive = (now: number, id?: string) => {
      const es = log.filter((e) => now - e.t <= 10_000 && e.id === id);
      return es.length ? Math.round((es.reduce((s, e) => s + e.n, 0) * 1000) / Math.max(1000, now - es[0].t)) : 0;
    };
    r.join('a', 'node', 'wasm', 'cpu');
    r.join('b', 'node', 'wasm', 'cpu');
    let t = 0;
    let seed = 1;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let i = 0; i < 3000; i++) {
      t += Math.floor(rand() * 40); // bursts and gaps, sometimes longer than the window
      if (i % 700 === 699) t += 12_000;
      const id = rand() < 0.5 ? 'a' : rand() < 0.8 ? 'b' : undefined;
      const n = Math.floor(rand() * 256);
      if (id) {
        r.contributed(id, n, t);
        log.push({ t, n, id });
      } else {
        r.metrics({ phase: i % 2 ? 'G' : 'D', step: i, loss: 1, dReal: 0.5, dFake: 0.5, samples: n }, t);
        log.push({ t, n });
        expect(r.latest.imgsPerSec).toBe(naive(t));
      }
      if (i % 97 === 0) {
        const ws = r.workers(['a', 'b'], t);
        expect(ws.map((w) => w.imgsPerSec)).toEqual([naive(t, 'a'), naive(t, 'b')]);
      }
    }
  });
});

describe('RunRecorder: the ledgers of departed workers are bounded', () => {
  const earn = (r: RunRecorder, id: string, samples: number) => {
    r.ack(id, 'applied');
    r.contributed(id, samples);
  };

  it('keeps every connected worker and the last maxDeparted that left, retiring the oldest with their counters', () => {
    const r = new RunRecorder(2);
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      r.join(id, 'volunteer', 'wasm', 'chrome');
      earn(r, id, 10);
    }
    r.join('live', 'node', 'wasm', 'x');
    for (const id of ['a', 'b', 'c', 'd', 'e']) r.leave(id);
    expect(r.workers(['live']).map((w) => w.id).sort()).toEqual(['d', 'e', 'live']);
    const retired = r.takeRetired();
    expect(retired.map((w) => [w.id, w.accepted, w.samples, w.connected])).toEqual([
      ['a', 1, 10, false],
      ['b', 1, 10, false],
      ['c', 1, 10, false],
    ]);
    expect(r.takeRetired()).toEqual([]); // handed over once
  });

  it('does not retire a worker that came back, and counts a second departure from its own time', () => {
    const r = new RunRecorder(1);
    r.join('a', 'node', 'cpu', 'x');
    r.join('b', 'node', 'cpu', 'x');
    r.leave('a');
    r.join('a', 'node', 'cpu', 'x'); // back with its resume token: same id, same ledger
    earn(r, 'a', 5);
    r.leave('b');
    r.leave('a'); // a left after b, so b is the oldest departure now
    r.leave('a'); // a second close of the same worker changes nothing
    expect(r.workers([]).map((w) => [w.id, w.accepted])).toEqual([['a', 1]]);
    expect(r.takeRetired().map((w) => w.id)).toEqual(['b']);
  });

  it('stays bounded under churn', () => {
    const r = new RunRecorder(100);
    for (let i = 0; i < 5000; i++) {
      r.join(`v-${i}`, 'volunteer', 'wasm', 'chrome');
      earn(r, `v-${i}`, 1);
      r.leave(`v-${i}`);
    }
    expect(r.workers([])).toHaveLength(100);
    expect(r.takeRetired()).toHaveLength(4900);
  });
});
