import { ErrorCodes, isDuelError } from '@duel/util';
import { describe, expect, it } from 'vitest';
import { renderWorkerMetrics } from './metrics-server';
import { parseWorkerArgs } from './worker.command';
import { createCounters } from '@duel/worker-core';

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    return isDuelError(e) ? e.code : 'not a DuelError';
  }
}

describe('duel worker flags', () => {
  it('parses the documented flags', () => {
    const opts = parseWorkerArgs(['--coordinator', 'ws://10.0.0.1:8080/ws', '--token', 'T', '--backend', 'wasm', '--max-batch', '256'], {});
    expect(opts).toEqual({ coordinator: 'ws://10.0.0.1:8080/ws', token: 'T', backend: 'wasm', kind: 'node', maxBatch: 256 });
  });

  it('defaults the backend to auto and the token to $DUEL_WORKER_TOKEN', () => {
    const opts = parseWorkerArgs(['--coordinator', 'wss://duel.example/ws'], { DUEL_WORKER_TOKEN: 'env-token' });
    expect(opts).toMatchObject({ backend: 'auto', token: 'env-token' });
  });

  it.each([
    [['--coordinator', 'ws://h:1/ws', '--gpu']],
    [['--token', 'T']],
    [['--coordinator', 'http://h:1/ws']],
    [['--coordinator', 'ws://h:1/ws', '--backend', 'webgl']],
    [['--coordinator', 'ws://h:1/ws', '--max-batch', '0']],
    [['--coordinator', 'ws://h:1/ws', 'extra']],
  ])('refuses %j with DUEL_ERR_BAD_ARGUMENT', (argv) => {
    expect(codeOf(() => parseWorkerArgs(argv, {}))).toBe(ErrorCodes.BAD_ARGUMENT);
  });
});

describe('worker metrics', () => {
  it('renders counters in Prometheus text format', () => {
    const c = { ...createCounters(), tasksDone: 4, computeMs: 1500, rejected: 2 };
    const text = renderWorkerMetrics(c, true);
    expect(text).toContain('# TYPE duel_worker_tasks_total counter\nduel_worker_tasks_total 4\n');
    expect(text).toContain('duel_worker_compute_seconds_total 1.5');
    expect(text).toContain('duel_worker_acks_total{status="rejected"} 2');
    expect(text).toContain('duel_worker_connected 1');
  });
});
