import { ErrorCodes, isDuelError } from '@duel/util';
import { describe, expect, it } from 'vitest';
import { workerMetricsRegistry } from './metrics-server';
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
    expect(opts).toEqual({ coordinator: 'ws://10.0.0.1:8080/ws', token: 'T', backend: 'wasm', kind: 'node', maxBatch: 256, wsMask: 'zero' });
    const ops = parseWorkerArgs(['--coordinator', 'ws://h:1/ws', '--metrics-port', '9464', '--grace-ms', '20000', '--log-level', 'warn'], {});
    expect(ops).toMatchObject({ metricsPort: 9464, graceMs: 20000, logLevel: 'warn' });
    expect(parseWorkerArgs(['--coordinator', 'ws://h:1/ws', '--micro-batch', '64'], {}).microBatch).toBe(64);
  });

  it('takes the WebSocket masking keys from $DUEL_WS_MASK (zero unless random) and refuses another value', () => {
    const url = ['--coordinator', 'ws://h:1/ws'];
    expect(parseWorkerArgs(url, { DUEL_WS_MASK: 'random' }).wsMask).toBe('random');
    expect(parseWorkerArgs(url, { DUEL_WS_MASK: '' }).wsMask).toBe('zero');
    expect(() => parseWorkerArgs(url, { DUEL_WS_MASK: 'none' })).toThrow(/DUEL_WS_MASK must be zero or random/);
  });

  it('defaults the backend to auto and the token to $DUEL_WORKER_TOKEN', () => {
    const opts = parseWorkerArgs(['--coordinator', 'wss://duel.example/ws'], { DUEL_WORKER_TOKEN: 'env-token' });
    expect(opts).toMatchObject({ backend: 'auto', token: 'env-token' });
    expect(parseWorkerArgs([], { DUEL_COORDINATOR_URL: 'ws://duel-coordinator:8080/ws' })).toMatchObject({ coordinator: 'ws://duel-coordinator:8080/ws' });
  });

  it.each([
    [['--coordinator', 'ws://h:1/ws', '--gpu']],
    [['--token', 'T']],
    [['--coordinator', 'http://h:1/ws']],
    [['--coordinator', 'ws://h:1/ws', '--backend', 'webgl']],
    [['--coordinator', 'ws://h:1/ws', '--max-batch', '0']],
    [['--coordinator', 'ws://h:1/ws', '--micro-batch', '0']],
    [['--coordinator', 'ws://h:1/ws', '--micro-batch', '1.5']],
    [['--coordinator', 'ws://h:1/ws', 'extra']],
    [['--coordinator', 'ws://h:1/ws', '--metrics-port', '70000']],
    [['--coordinator', 'ws://h:1/ws', '--metrics-port', 'x']],
    [['--coordinator', 'ws://h:1/ws', '--grace-ms', '-1']],
    [['--coordinator', 'ws://h:1/ws', '--log-level', 'loud']],
  ])('refuses %j with DUEL_ERR_BAD_ARGUMENT', (argv) => {
    expect(codeOf(() => parseWorkerArgs(argv, {}))).toBe(ErrorCodes.BAD_ARGUMENT);
  });
});

describe('worker metrics', () => {
  it('mirrors the counters at scrape time in Prometheus text format', async () => {
    const src = { counters: { ...createCounters(), tasksDone: 4, computeMs: 1500, rejected: 2 }, connected: true, workerId: 'w-1-a', backend: 'wasm', device: 'cpu' };
    const registry = workerMetricsRegistry(() => src, false);
    let text = await registry.metrics();
    expect(text).toContain('# TYPE duel_worker_tasks_total counter\nduel_worker_tasks_total 4\n');
    expect(text).toContain('duel_worker_compute_seconds_total 1.5');
    expect(text).toContain('duel_worker_acks_total{status="rejected"} 2');
    expect(text).toContain('duel_worker_connected 1');
    expect(text).toContain('duel_worker_info{worker_id="w-1-a",backend="wasm",device="cpu"} 1');
    src.counters = { ...src.counters, tasksDone: 5 };
    src.connected = false;
    text = await registry.metrics();
    expect(text).toContain('duel_worker_tasks_total 5\n');
    expect(text).toContain('duel_worker_connected 0');
  });
});
