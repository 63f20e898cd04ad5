/**
 * Figure 9: a browser volunteer's throughput as a ratio to a Node worker's,
 * both on tfjs wasm, on this machine and model. One coordinator (a child
 * process) runs ring8 / mlp2d; a `duel worker --backend wasm` process and a
 * headless Chromium volunteer page (`/volunteer?backend=wasm`, cross-origin
 * isolated) take turns as its only worker, alternating so that drift in the
 * machine's load hits both. Throughput is what the coordinator credits: the
 * samples of the worker's applied results per second.
 */
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { spawnWorkers } from '../../apps/cli/src/distributed-run';
import { wsRoundTrips, type RttRow } from './ws-rtt';
import { CHROMIUM, ensureWebBuild, freePort, launchChromium, spawnCoordinator, status, until, type CoordinatorProcess } from '../../tests/support/browser';
import { caption, fmt, log, median, metricSum, sleep, table, type Machine, type Section } from './common';

const TITLE = '9. Volunteer';
const BATCH = 256;

/** Whose turn: the Node worker, the volunteer, or the volunteer asked for int8 results (`--codec-volunteer int8`). */
type Who = 'node' | 'browser' | 'browser-int8';

interface Turn {
  who: Who;
  imgsPerSec: number;
  device: string;
  /** Over the window, per result of this worker: */
  split: TaskSplit;
}

/** Where a task's time goes, from the coordinator's /metrics (means over the window, ms). */
interface TaskSplit {
  tasksPerSec: number;
  /** The compute the results report (duel_result_compute_seconds). */
  computeMs: number;
  /** Task sent to result received (duel_task_seconds). */
  turnaroundMs: number;
}

interface TaskCounters {
  n: number;
  compute: number;
  turnaround: number;
}

async function taskCounters(url: string, kind: string): Promise<TaskCounters> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return {
    n: metricSum(text, 'duel_task_seconds_count', { kind }),
    compute: metricSum(text, 'duel_result_compute_seconds_sum', { kind }),
    turnaround: metricSum(text, 'duel_task_seconds_sum', { kind }),
  };
}

/** Credited samples per second of the only worker of `kind`, over `ms` after a warm-up. */
async function measure(coord: CoordinatorProcess, kind: 'node' | 'volunteer', before: Set<string>, warmMs: number, ms: number): Promise<{ rate: number; device: string; split: TaskSplit }> {
  // The status API lists every worker the run has seen: this turn's is the one of `kind` that was not there before.
  const me = async () => (await status(coord.url)).workers.find((w) => w.kind === kind && !before.has(w.id));
  await until(async () => ((await me())?.accepted ?? 0) > 0, 120_000, `the ${kind} worker's first applied result`);
  await sleep(warmMs);
  const a = (await me())!;
  const c0 = await taskCounters(coord.url, kind);
  const t0 = performance.now();
  await sleep(ms);
  const b = (await me())!;
  const c1 = await taskCounters(coord.url, kind);
  const elapsed = performance.now() - t0;
  if (a.id !== b.id) throw new Error(`the ${kind} worker reconnected during the window`);
  const n = c1.n - c0.n;
  const split = { tasksPerSec: (n * 1000) / elapsed, computeMs: ((c1.compute - c0.compute) * 1000) / n, turnaroundMs: ((c1.turnaround - c0.turnaround) * 1000) / n };
  return { rate: ((b.samples - a.samples) * 1000) / elapsed, device: (b as { device?: string }).device ?? '', split };
}

async function knownIds(coord: CoordinatorProcess): Promise<Set<string>> {
  return new Set((await status(coord.url)).workers.map((w) => w.id));
}

async function nodeTurn(coord: CoordinatorProcess, warmMs: number, ms: number): Promise<Turn> {
  const before = await knownIds(coord);
  const w = spawnWorkers(1, coord.wsUrl, 'wasm');
  try {
    const r = await measure(coord, 'node', before, warmMs, ms);
    return { who: 'node', imgsPerSec: r.rate, device: r.device, split: r.split };
  } finally {
    await w.stop();
  }
}

async function browserTurn(page: Page, coord: CoordinatorProcess, who: Who, warmMs: number, ms: number): Promise<Turn> {
  const before = await knownIds(coord);
  await page.goto(`${coord.url}/volunteer?backend=wasm`);
  await page.click('#contribute');
  try {
    const r = await measure(coord, 'volunteer', before, warmMs, ms);
    return { who, imgsPerSec: r.rate, device: r.device, split: r.split };
  } finally {
    await page.click('#stop');
    await until(async () => (await page.locator('#v-state').textContent()) === 'stopped', 30_000, 'the volunteer to stop');
  }
}

const LABEL: Record<Who, string> = {
  node: 'Node worker process',
  browser: 'Chromium volunteer (Web Worker)',
  'browser-int8': 'Chromium volunteer, `--codec-volunteer int8`',
};

/** Frame sizes of the round-trip table: small, an mlp2d result or weights frame (~132 KB), and an mlp D result (~2 MB). */
const RTT_SIZES = [1_024, 132_000, 2_100_000];

export async function volunteerFigure(m: Machine, quick: boolean): Promise<Section> {
  if (!existsSync(CHROMIUM)) {
    return { title: TITLE, markdown: `Not measured: ${CHROMIUM} is missing (apt-get install -y chromium).`, summary: 'volunteer: not measured (no Chromium)' };
  }
  await ensureWebBuild();
  const args = ['--dataset', 'ring8', '--model', 'mlp2d', '--batch', String(BATCH), '--steps', '1000000', '--seed', '1'];
  const coord = await spawnCoordinator(await freePort(), args);
  const coordInt8 = await spawnCoordinator(await freePort(), [...args, '--codec-volunteer', 'int8']);
  const browser = await launchChromium();
  const page = await browser.newPage();
  const [warmMs, ms, rounds] = quick ? [3_000, 8_000, 1] : [5_000, 20_000, 2];
  const turns: Turn[] = [];
  let rtt: RttRow[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      for (const who of ['node', 'browser', 'browser-int8'] as const) {
        log(`volunteer figure: ${who} turn ${r + 1}/${rounds}`);
        turns.push(who === 'node' ? await nodeTurn(coord, warmMs, ms) : await browserTurn(page, who === 'browser' ? coord : coordInt8, who, warmMs, ms));
      }
    }
    log('volunteer figure: bare WebSocket round trips');
    rtt = await wsRoundTrips(browser, RTT_SIZES, quick ? 100 : 400);
  } finally {
    await browser.close();
    await coord.stop();
    await coordInt8.stop();
  }
  const of = (who: Who) => turns.filter((t) => t.who === who);
  const rate = (who: Who) => median(of(who).map((t) => t.imgsPerSec));
  const node = rate('node');
  const web = rate('browser');
  const web8 = rate('browser-int8');
  const ratio = web / node;
  const rows = turns.map((t, i) => {
    const s = t.split;
    return [
      i + 1,
      LABEL[t.who],
      t.device,
      fmt(t.imgsPerSec, 0),
      fmt(s.tasksPerSec, 1),
      fmt(s.computeMs, 2),
      fmt(s.turnaroundMs - s.computeMs, 2),
      fmt(1000 / s.tasksPerSec - s.turnaroundMs, 2),
    ];
  });
  const med = (who: Who, f: (s: TaskSplit) => number) => median(of(who).map((t) => f(t.split)));
  const parts = (who: Who) => ({ period: med(who, (s) => 1000 / s.tasksPerSec), compute: med(who, (s) => s.computeMs), wire: med(who, (s) => s.turnaroundMs - s.computeMs) });
  const np = parts('node');
  const bp = parts('browser');
  const b8 = parts('browser-int8');
  const result = rtt.find((r) => r.bytes === 132_000);
  const markdown = [
    `ring8, mlp2d (width 128), batch ${BATCH}, sync rounds, one worker at a time against one coordinator process; ${fmt(ms / 1000, 0)} s windows after ${fmt(warmMs / 1000, 0)} s of warm-up, turns alternating.`,
    'img/s is what the coordinator credits: samples of the worker\'s applied results per second (D tasks count real + fake).',
    'The int8 turns run against a second coordinator started with `--codec-volunteer int8` (node workers there would still send fp32).',
    '',
    table(['turn', 'worker', 'backend (device)', 'img/s', 'tasks/s', 'compute ms / task', 'turnaround − compute ms', 'coordinator between tasks ms'], rows),
    '',
    `**Browser volunteer / Node worker, both wasm: ${fmt(ratio, 2)}** (medians ${fmt(web, 0)} / ${fmt(node, 0)} img/s); with \`--codec-volunteer int8\`: **${fmt(web8 / node, 2)}** (${fmt(web8, 0)} img/s).`,
    `Per task (medians): the Node worker ${fmt(np.period, 2)} ms, of which ${fmt(np.compute, 2)} ms its reported compute and ${fmt(np.wire, 2)} ms turnaround beyond it;`,
    `the volunteer ${fmt(bp.period, 2)} ms, of which ${fmt(bp.compute, 2)} ms compute and ${fmt(bp.wire, 2)} ms beyond it; with int8 results ${fmt(b8.period, 2)} ms, ${fmt(b8.compute, 2)} ms and ${fmt(b8.wire, 2)} ms.`,
    'Columns from the coordinator\'s /metrics over each window: compute is what the results report (`duel_result_compute_seconds`, work done',
    'ahead of the task included); turnaround is task sent to result received (`duel_task_seconds`), so turnaround − compute is the wire,',
    'encoding and decoding on both sides and the worker\'s scheduling; the last column is the rest of a task period (1 / tasks per second),',
    'the coordinator aggregating, stepping Adam and opening the next round.',
    '',
    '**The transport alone.** Bare WebSocket round trips on loopback, no duel code in the path: a `ws` server answers each binary',
    'frame with one of the same size, the client sends the next when the answer is in. Median ms per round trip:',
    '',
    table(
      ['frame', 'Node `ws` client', 'Chromium Web Worker WebSocket', 'Chromium ÷ Node'],
      rtt.map((r) => [`${fmt(r.bytes / 1000, 0)} KB`, fmt(r.nodeMs, 3), fmt(r.browserMs, 2), `${fmt(r.browserMs / r.nodeMs, 1)}×`]),
    ),
    '',
    result
      ? `An mlp2d result or weights frame is about 132 KB: a round trip of that size costs the Web Worker ${fmt(result.browserMs - result.nodeMs, 2)} ms more than Node, which is the order of the volunteer's extra turnaround above.`
      : '',
    'Chromium\'s timer resolution in a page that is not cross-origin isolated is 0.1 ms, so the browser column is good to about that.',
    '',
    caption(m),
  ].join('\n');
  return {
    title: TITLE,
    markdown,
    summary: `volunteer: Chromium wasm volunteer at ${fmt(ratio, 2)}× a Node wasm worker (${fmt(web, 0)} vs ${fmt(node, 0)} img/s, ring8 mlp2d batch ${BATCH}), ${fmt(web8 / node, 2)}× with --codec-volunteer int8; the gap is outside compute (figure 9)`,
  };
}
