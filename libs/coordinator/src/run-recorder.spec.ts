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
