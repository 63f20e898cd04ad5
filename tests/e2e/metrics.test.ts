import { spawn, type ChildProcess } from 'node:child_process';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, describe, expect, it } from 'vitest';
import { DUEL_BIN } from '../support/cli';
import { spawnWorkers, stopAll, type LocalWorkers } from '../support/workers';

type Family = ReturnType<typeof parsePrometheusTextFormat>[number];

/**
 * Parses Prometheus text exposition with parse-prometheus-text-format (it
 * throws on a malformed line) and checks what it leaves unchecked: every
 * family is typed and every sample's value is a float. The library merges
 * the label sets of a labelled histogram into one entry and drops their
 * _count and _sum, so histogram counts are read from the sample lines.
 */
function parseMetrics(text: string): { families: Map<string, Family>; samples: Map<string, number> } {
  const families = parsePrometheusTextFormat(text);
  for (const f of families) expect(f.type, f.name).not.toBe('UNTYPED');
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)(?: -?\d+)?$/.exec(line);
    expect(m, `sample line: ${line}`).not.toBeNull();
    expect(m![2], line).toMatch(/^(NaN|[+-]?Inf|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$/);
    samples.set(m![1], Number(m![2]));
  }
  return { families: new Map(families.map((f) => [f.name, f])), samples };
}

type Scrape = ReturnType<typeof parseMetrics>;

/** A counter's or gauge's value by labels (a subset match), from the parsed families. */
const value = ({ families }: Scrape, name: string, labels: Record<string, string> = {}): number => {
  const f = families.get(name);
  if (!f) throw new Error(`metric ${name} missing`);
  const m = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  if (!m || !('value' in m)) throw new Error(`${name}${JSON.stringify(labels)} missing`);
  return Number(m.value);
};
/** The sum over all label sets of `name` (a histogram: of name_count) from the sample lines. */
const total = ({ samples }: Scrape, name: string): number => {
  let n = 0;
  for (const [k, v] of samples) if (k === name || k.startsWith(`${name}{`)) n += v;
  return n;
};

/** Spawns `duel ARGS` and resolves with the process once `pattern` appears on its stderr. */
function spawnUntil(args: string[], pattern: RegExp, timeoutMs = 90_000): Promise<{ p: ChildProcess; match: RegExpExecArray }> {
  const p = spawn(process.execPath, [DUEL_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`duel ${args[0]}: no ${pattern} within ${timeoutMs} ms; stderr:\n${err.slice(-3000)}`)), timeoutMs);
    p.stderr!.setEncoding('utf8').on('data', (s: string) => {
      err += s;
      const match = pattern.exec(err);
      if (match) {
        clearTimeout(timer);
        resolve({ p, match });
      }
    });
    p.on('exit', (code) => reject(new Error(`duel ${args[0]} exited with ${code}; stderr:\n${err.slice(-3000)}`)));
  });
}

describe('the exposition check', () => {
  it('refuses malformed text, untyped families and non-numeric values', () => {
    const ok = '# HELP duel_x x\n# TYPE duel_x gauge\nduel_x{a="1"} 3\n';
    expect(parseMetrics(ok).samples.get('duel_x{a="1"}')).toBe(3);
    expect(() => parseMetrics('# TYPE duel_x gauge\nduel_x{a="1" 3\n')).toThrow();
    expect(() => parseMetrics('duel_y 1\n')).toThrow(/UNTYPED/);
    expect(() => parseMetrics('# TYPE duel_z gauge\nduel_z fast\n')).toThrow();
  });
});

describe('metrics during a real run (coordinator and worker processes)', () => {
  const procs: ChildProcess[] = [];
  let workers: LocalWorkers | undefined;
  afterAll(async () => {
    await workers?.stop();
    await stopAll(procs);
  });

  it('scrapes /metrics: the step advances, workers are counted, the histograms fill, and it all parses as Prometheus text', async () => {
    const coord = await spawnUntil(
      ['coordinator', '--host', '127.0.0.1', '--port', '0', '--dataset', 'ring8', '--steps', '100000', '--batch', '64', '--shards', '2', '--seed', '4'],
      /on (http:\/\/127\.0\.0\.1:\d+) \(workers: (ws:\/\/[^)\s]+)\)/,
    );
    procs.push(coord.p);
    const [, url, wsUrl] = coord.match;
    const scrape = async () => parseMetrics(await (await fetch(`${url}/metrics`)).text());

    const before = await scrape();
    expect(value(before, 'duel_step')).toBe(0);
    expect(total(before, 'duel_workers')).toBe(0);

    workers = spawnWorkers(1, wsUrl, 'cpu');
    // A second worker with its own /metrics, as in the k8s manifests.
    const w2 = await spawnUntil(['worker', '--coordinator', wsUrl, '--backend', 'cpu', '--metrics-port', '0'], /"port":(\d+)[^\n]*"event":"metrics"/);
    procs.push(w2.p);
    const workerMetricsUrl = `http://127.0.0.1:${w2.match[1]}/metrics`;

    const deadline = Date.now() + 120_000;
    let first: Scrape | null = null;
    while (Date.now() < deadline) {
      const m = await scrape();
      if (value(m, 'duel_step') >= 2) {
        first = m;
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(first, 'step 2 within 120 s').not.toBeNull();
    let second = first!;
    while (Date.now() < deadline && value(second, 'duel_step') <= value(first!, 'duel_step')) {
      await new Promise((r) => setTimeout(r, 200));
      second = await scrape();
    }
    // The step advances between scrapes.
    expect(value(second, 'duel_step')).toBeGreaterThan(value(first!, 'duel_step'));

    // Workers by kind and backend, busy + idle = joined.
    expect(value(second, 'duel_workers', { kind: 'node', backend: 'cpu' })).toBe(2);
    expect(value(second, 'duel_workers_busy') + value(second, 'duel_workers_idle')).toBe(2);
    expect(value(second, 'duel_shards_pending')).toBeGreaterThanOrEqual(0);
    expect(value(second, 'duel_round_shards')).toBe(2); // --shards 2: the autoscaling signal asks for 2 workers

    // Rounds, results, bytes, losses and the histograms.
    expect(value(second, 'duel_rounds_total', { phase: 'D' })).toBeGreaterThanOrEqual(value(second, 'duel_step'));
    expect(value(second, 'duel_results_total', { status: 'applied' })).toBeGreaterThan(0);
    expect(value(second, 'duel_bytes_in_total')).toBeGreaterThan(value(first!, 'duel_bytes_in_total'));
    expect(value(second, 'duel_bytes_out_total')).toBeGreaterThan(0);
    for (const net of ['D', 'G']) expect(Number.isFinite(value(second, 'duel_loss', { net }))).toBe(true);
    expect(value(second, 'duel_d_real')).toBeGreaterThan(0);
    expect(value(second, 'duel_d_fake')).toBeGreaterThan(0);
    for (const h of ['duel_round_seconds', 'duel_aggregation_seconds', 'duel_staleness']) {
      expect(second.families.get(h)?.type, h).toBe('HISTOGRAM');
      expect(total(second, `${h}_count`), `${h}_count`).toBeGreaterThan(0);
    }
    expect(total(second, 'duel_round_seconds_count')).toBeGreaterThanOrEqual(value(second, 'duel_step'));
    // Per result, by worker kind and backend: the worker's compute, and the task's turnaround seen from the coordinator.
    for (const h of ['duel_result_compute_seconds', 'duel_task_seconds']) {
      expect(second.families.get(h)?.type, h).toBe('HISTOGRAM');
      expect(total(second, `${h}_count`), h).toBeGreaterThan(0);
      expect(total(second, `${h}_sum`), h).toBeGreaterThan(0);
      const series = [...second.samples.keys()].filter((k) => k.startsWith(`${h}_count{`));
      expect(series, h).toEqual([expect.stringMatching(/kind="node".*backend="cpu"|backend="cpu".*kind="node"/)]);
    }
    expect(total(second, 'duel_task_seconds_count')).toBe(total(second, 'duel_result_compute_seconds_count'));
    // Sync mode: every applied result is at the current version.
    expect(second.samples.get('duel_staleness_bucket{le="0"}')).toBe(second.samples.get('duel_staleness_count'));

    // The worker's own /metrics parses too and counts its tasks.
    const wm = parseMetrics(await (await fetch(workerMetricsUrl)).text());
    expect(value(wm, 'duel_worker_connected')).toBe(1);
    expect(value(wm, 'duel_worker_tasks_total')).toBeGreaterThan(0);
    expect(value(wm, 'duel_worker_info', { backend: 'cpu' })).toBe(1);
  });
});
