import { afterAll, beforeAll, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { StatusWorker } from '@duel/api-types';
import { SCREENSHOTS, startBrowserRun, status, until, type BrowserRun, type CoordinatorProcess } from '../support/browser';
import { describeBrowser } from '../support/describe-browser';
import { RawClient, is } from '../support/raw-client';

const RUN_ARGS = ['--dataset', 'ring8', '--steps', '100000', '--batch', '64', '--seed', '4', '--task-timeout', '5000'];

/**
 * A browser volunteer in real Chromium, forced to the wasm backend, next to a
 * real node worker process: its results are accepted and show up in
 * /api/status and on the dashboard; garbage and a mid-task disconnect from
 * other volunteers do not disturb the run; Stop leaves cleanly with bye.
 */
describeBrowser('volunteer page (Chromium, wasm) with a coordinator and a node worker', () => {
  let run: BrowserRun;
  let coord: CoordinatorProcess;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    run = await startBrowserRun({ args: RUN_ARGS, viewport: { width: 900, height: 800 }, workerReady: (w) => w.accepted > 0 });
    ({ coord, browser, page } = run);
  }, 300_000);

  afterAll(() => run?.stop());

  const text = async (id: string) => (await page.locator(`#${id}`).textContent()) ?? '';
  const volunteerRow = async (): Promise<StatusWorker | undefined> => (await status(coord.url)).workers.find((w) => w.kind === 'volunteer' && w.backend === 'wasm');

  it('(b) contributes on wasm: results accepted, visible in /api/status and in the dashboard workers table', async () => {
    await page.goto(`${coord.url}/volunteer?backend=wasm`);
    expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
    await page.click('#contribute');
    await until(async () => (await text('v-backend')) === 'wasm', 60_000, 'the wasm backend');
    // Cross-origin isolated, so tfjs-backend-wasm may use threads.
    expect(await text('v-device')).toMatch(/^wasm \((no )?simd, \d+ threads?\)$/);
    await until(async () => Number(await text('v-accepted')) >= 3, 90_000, 'three accepted results');
    expect(await text('v-state')).toBe('connected');
    expect(Number(await text('v-tasks'))).toBeGreaterThanOrEqual(3);

    const row = await until(volunteerRow, 10_000, 'the volunteer in /api/status');
    expect(row.id).toBe(await text('v-worker'));
    expect(row.accepted).toBeGreaterThanOrEqual(3);
    expect(row.samples).toBeGreaterThan(0);
    await until(async () => Number(await text('v-credit')) > 0, 10_000, 'credit on the page');
    await page.screenshot({ path: join(SCREENSHOTS, 'volunteer.png'), fullPage: true });

    const dash = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await dash.goto(`${coord.url}/`);
    const tr = dash.locator(`#workers tbody tr[data-worker="${row.id}"]`);
    await until(async () => (await tr.count()) === 1, 20_000, 'the volunteer row on the dashboard');
    expect(await tr.getAttribute('data-kind')).toBe('volunteer');
    expect(await tr.textContent()).toContain('wasm');
    await dash.screenshot({ path: join(SCREENSHOTS, 'dashboard-with-volunteer.png'), fullPage: true });
    await dash.close();
  });

  it('garbage from one volunteer and a mid-task disconnect of another do not disturb the run', async () => {
    const token = async () => ((await (await fetch(`${coord.url}/api/volunteer/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).json()) as { token: string }).token;
    const hello = { kind: 'volunteer' as const, capabilities: { backend: 'wasm', device: 'scripted', maxBatch: 4096 } };

    const garbage = await RawClient.connect(coord.wsUrl);
    garbage.hello({ ...hello, token: await token() });
    await garbage.next(is('welcome'));
    garbage.sendRaw(new Uint8Array([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8]));
    expect((await garbage.next(is('error'))).code).toBe('DUEL_ERR_BAD_FRAME');
    expect((await garbage.closedWith()).code).toBe(4400);

    const quitter = await RawClient.connect(coord.wsUrl);
    quitter.hello({ ...hello, token: await token() });
    await quitter.next(is('welcome'));
    await quitter.next(is('task'), 30_000);
    const before = (await status(coord.url)).run.step;
    const acceptedBefore = Number(await text('v-accepted'));
    quitter.ws.terminate(); // gone mid-task: its shard must be reassigned

    await until(async () => (await status(coord.url)).run.step >= before + 5, 90_000, 'five more steps after the disconnect');
    await until(async () => Number(await text('v-accepted')) > acceptedBefore, 60_000, 'the browser volunteer to keep contributing');
    const s = await status(coord.url);
    const node = s.workers.find((w) => w.kind === 'node');
    expect(node, JSON.stringify(s.workers)).toBeDefined();
    expect(node!.accepted).toBeGreaterThan(0);
    expect(s.workers.find((w) => w.device === 'scripted' && w.accepted > 0)).toBeUndefined();
    expect(run.errors).toEqual([]);
  });

  const volunteers = async () => {
    const m = await (await fetch(`${coord.url}/metrics`)).text();
    return [...m.matchAll(/^duel_workers\{kind="volunteer",backend="wasm"\} (\d+)/gm)].reduce((n, x) => n + Number(x[1]), 0);
  };
  const setHidden = (hidden: boolean) =>
    page.evaluate((h) => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
      document.dispatchEvent(new Event('visibilitychange'));
    }, hidden);

  it('a hidden tab leaves the run with bye and comes back when visible; "keep going" stays', async () => {
    await setHidden(true);
    await until(async () => (await text('v-state')) === 'paused', 30_000, 'the page to pause');
    await until(async () => (await volunteers()) === 0, 10_000, 'the coordinator to drop the hidden volunteer');
    const accepted = Number(await text('v-accepted'));
    await setHidden(false);
    await until(async () => (await text('v-state')) === 'connected', 30_000, 'the page to come back');
    await until(async () => Number(await text('v-accepted')) > accepted, 60_000, 'results after coming back');
    // Same worker id: the session resumed its identity.
    expect((await volunteerRow())?.id).toBe(await text('v-worker'));

    await page.check('#keep-going');
    await setHidden(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await text('v-state')).toBe('connected');
    await setHidden(false);
  });

  it('reconnects with backoff after a coordinator restart, with a fresh session token, and contributes again', async () => {
    const oldRun = (await (await fetch(`${coord.url}/api/status`)).json()) as { run: { id: string } };
    await coord.stop();
    await until(async () => (await text('v-state')) === 'reconnecting', 30_000, 'the page to notice');
    // A new coordinator has a new session key: the old token is refused, and the volunteer fetches another.
    coord = await run.respawn();
    await until(async () => (await text('v-state')) === 'connected', 60_000, 'the volunteer to reconnect');
    await until(async () => ((await volunteerRow())?.accepted ?? 0) > 0, 90_000, 'accepted results on the new coordinator');
    expect(((await (await fetch(`${coord.url}/api/status`)).json()) as { run: { id: string } }).run.id).not.toBe(oldRun.run.id);
    await until(async () => (await status(coord.url)).workers.some((w) => w.kind === 'node'), 60_000, 'the node worker to return');
  });

  it('?microBatch=N runs each task in micro-batches, and a micro-batch that splits a pack fails at the welcome with BAD_SPEC', async () => {
    // A second volunteer beside the first; its tasks hold more than 8 of the batch's 64 samples, so they run in micro-batches.
    const micro = await browser.newPage();
    await micro.goto(`${coord.url}/volunteer?backend=wasm&microBatch=8`);
    const microText = async (id: string) => (await micro.locator(`#${id}`).textContent()) ?? '';
    expect(await microText('v-micro')).toBe('8');
    await micro.click('#contribute');
    await until(async () => Number(await microText('v-accepted')) >= 2, 90_000, 'two accepted micro-batched results');
    await micro.click('#stop');
    await until(async () => (await microText('v-state')) === 'stopped', 30_000, 'the micro-batched volunteer to stop');

    // ring8 packs 2 samples per D input: 3 cannot be cut into whole packs. Permanent, so the page does not retry.
    await micro.goto(`${coord.url}/volunteer?backend=wasm&microBatch=3`);
    await micro.click('#contribute');
    await until(async () => (await microText('v-state')) === 'failed', 60_000, 'the page to fail');
    expect(await microText('v-note')).toMatch(/DUEL_ERR_BAD_SPEC.*3 is not a positive multiple of the pack \(2 samples\)/);
    await micro.close();
  });

  it('Stop finishes the task, says bye and leaves the run', async () => {
    expect(await volunteers()).toBe(1);
    await page.click('#stop');
    await until(async () => (await text('v-state')) === 'stopped', 30_000, 'the page to stop');
    await until(async () => (await volunteers()) === 0, 10_000, 'the coordinator to drop the volunteer');
    expect(coord.log.join('\n')).toMatch(/bye: volunteer stopped|volunteer stopped/);
    const step = (await status(coord.url)).run.step;
    await until(async () => (await status(coord.url)).run.step > step, 60_000, 'the run to go on with the node worker');
  });
});
