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
import { CHROMIUM, ensureWebBuild, freePort, launchChromium, spawnCoordinator, status, until, type CoordinatorProcess } from '../../tests/support/browser';
import { caption, fmt, log, median, sleep, table, type Machine, type Section } from './common';

const TITLE = '9. Volunteer';
const BATCH = 256;

interface Turn {
  who: 'node' | 'browser';
  imgsPerSec: number;
  device: string;
}

/** Credited samples per second of the only worker of `kind`, over `ms` after a warm-up. */
async function measure(coord: CoordinatorProcess, kind: 'node' | 'volunteer', before: Set<string>, warmMs: number, ms: number): Promise<{ rate: number; device: string }> {
  // The status API lists every worker the run has seen: this turn's is the one of `kind` that was not there before.
  const me = async () => (await status(coord.url)).workers.find((w) => w.kind === kind && !before.has(w.id));
  await until(async () => ((await me())?.accepted ?? 0) > 0, 120_000, `the ${kind} worker's first applied result`);
  await sleep(warmMs);
  const a = (await me())!;
  const t0 = performance.now();
  await sleep(ms);
  const b = (await me())!;
  if (a.id !== b.id) throw new Error(`the ${kind} worker reconnected during the window`);
  return { rate: ((b.samples - a.samples) * 1000) / (performance.now() - t0), device: (b as { device?: string }).device ?? '' };
}

async function knownIds(coord: CoordinatorProcess): Promise<Set<string>> {
  return new Set((await status(coord.url)).workers.map((w) => w.id));
}

async function nodeTurn(coord: CoordinatorProcess, warmMs: number, ms: number): Promise<Turn> {
  const before = await knownIds(coord);
  const w = spawnWorkers(1, coord.wsUrl, 'wasm');
  try {
    const r = await measure(coord, 'node', before, warmMs, ms);
    return { who: 'node', imgsPerSec: r.rate, device: r.device };
  } finally {
    await w.stop();
  }
}

async function browserTurn(page: Page, coord: CoordinatorProcess, warmMs: number, ms: number): Promise<Turn> {
  const before = await knownIds(coord);
  await page.goto(`${coord.url}/volunteer?backend=wasm`);
  await page.click('#contribute');
  try {
    const r = await measure(coord, 'volunteer', before, warmMs, ms);
    return { who: 'browser', imgsPerSec: r.rate, device: r.device };
  } finally {
    await page.click('#stop');
    await until(async () => (await page.locator('#v-state').textContent()) === 'stopped', 30_000, 'the volunteer to stop');
  }
}

export async function volunteerFigure(m: Machine, quick: boolean): Promise<Section> {
  if (!existsSync(CHROMIUM)) {
    return { title: TITLE, markdown: `Not measured: ${CHROMIUM} is missing (apt-get install -y chromium).`, summary: 'volunteer: not measured (no Chromium)' };
  }
  await ensureWebBuild();
  const coord = await spawnCoordinator(await freePort(), ['--dataset', 'ring8', '--model', 'mlp2d', '--batch', String(BATCH), '--steps', '1000000', '--seed', '1']);
  const browser = await launchChromium();
  const page = await browser.newPage();
  const [warmMs, ms, rounds] = quick ? [3_000, 8_000, 1] : [5_000, 20_000, 2];
  const turns: Turn[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      for (const who of ['node', 'browser'] as const) {
        log(`volunteer figure: ${who} turn ${r + 1}/${rounds}`);
        turns.push(who === 'node' ? await nodeTurn(coord, warmMs, ms) : await browserTurn(page, coord, warmMs, ms));
      }
    }
  } finally {
    await browser.close();
    await coord.stop();
  }
  const of = (who: Turn['who']) => turns.filter((t) => t.who === who);
  const node = median(of('node').map((t) => t.imgsPerSec));
  const web = median(of('browser').map((t) => t.imgsPerSec));
  const ratio = web / node;
  const rows = turns.map((t, i) => [i + 1, t.who === 'node' ? 'Node worker process' : 'Chromium volunteer (Web Worker)', t.device, fmt(t.imgsPerSec, 0)]);
  const markdown = [
    `ring8, mlp2d (width 128), batch ${BATCH}, sync rounds, one worker at a time against one coordinator process; ${fmt(ms / 1000, 0)} s windows after ${fmt(warmMs / 1000, 0)} s of warm-up, turns alternating.`,
    'img/s is what the coordinator credits: samples of the worker\'s applied results per second (D tasks count real + fake).',
    '',
    table(['turn', 'worker', 'backend (device)', 'img/s'], rows),
    '',
    `**Browser volunteer / Node worker, both wasm: ${fmt(ratio, 2)}** (medians ${fmt(web, 0)} / ${fmt(node, 0)} img/s).`,
    'The page is cross-origin isolated (COOP/COEP), so tfjs-backend-wasm may use threads; on this 2-core machine it picks the thread count shown.',
    'This model is small, so the figure weighs the per-task overhead (postMessage-free WebSocket in the Web Worker, msgpack, scheduling) as much as the kernels.',
    '',
    caption(m),
  ].join('\n');
  return { title: TITLE, markdown, summary: `volunteer: Chromium wasm volunteer at ${fmt(ratio, 2)}× a Node wasm worker (${fmt(web, 0)} vs ${fmt(node, 0)} img/s, ring8 mlp2d batch ${BATCH})` };
}
