import { afterAll, beforeAll, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { SCREENSHOTS, startBrowserRun, status, until, type BrowserRun, type CoordinatorProcess } from '../support/browser';
import { describeBrowser } from '../support/describe-browser';

const ADMIN = 'dashboard-test-admin-token';
const RUN_ARGS = ['--dataset', 'ring8', '--steps', '100000', '--batch', '64', '--seed', '3'];

/**
 * The dashboard in real Chromium against a real coordinator and a real node
 * worker (child processes): it goes live, its charts and samples advance,
 * controls need the admin token, and it survives a coordinator restart.
 */
describeBrowser('dashboard (Chromium, coordinator + node worker processes)', () => {
  let run: BrowserRun;
  let coord: CoordinatorProcess;
  let page: Page;

  beforeAll(async () => {
    run = await startBrowserRun({ args: RUN_ARGS, env: { DUEL_ADMIN_TOKEN: ADMIN }, viewport: { width: 1400, height: 1100 } });
    ({ coord, page } = run);
  }, 300_000);

  afterAll(() => run?.stop());

  const step = async () => Number(await page.locator('[data-testid=step]').textContent());
  const chartPoints = async () => Number(await page.locator('body').getAttribute('data-chart-points'));
  const renders = async () => Number((await page.locator('[data-testid=samples]').getAttribute('data-renders')) ?? 0);

  it('(a) loads, and its step counter, charts and samples advance during a run', async () => {
    const res = await page.goto(`${coord.url}/`);
    expect(res?.status()).toBe(200);
    // Cross-origin isolation, so wasm threads are allowed.
    expect(res?.headers()['cross-origin-opener-policy']).toBe('same-origin');
    expect(res?.headers()['cross-origin-embedder-policy']).toBe('require-corp');
    expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);

    const s0 = await until(async () => (await step()) > 0 && (await step()), 90_000, 'the step counter to move');
    const p0 = await chartPoints();
    await until(async () => (await step()) > s0 + 3, 60_000, 'more steps');
    await until(async () => (await chartPoints()) > p0, 30_000, 'the charts to grow');
    // The coordinator evaluates quality while the dashboard watches (2-D datasets).
    await until(async () => Number(await page.locator('body').getAttribute('data-quality-points')) > 0, 30_000, 'a quality point');
    // uPlot drew its canvases and the legend shows the reference series.
    expect(await page.locator('#chart-loss canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#chart-loss').textContent()).toContain('log 4');
    expect(await page.locator('#chart-d').textContent()).toContain('D(G(z))');

    const r0 = await until(renders, 60_000, 'the samples view to render');
    await until(async () => (await renders()) > r0, 60_000, 'the samples view to re-render from newer weights');
    // The scatter really has G's points on it (red), not just the centres.
    const red = await page.evaluate(() => {
      const c = document.getElementById('samples') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 150 && d[i + 1] < 170 && d[i + 2] < 170 && d[i] - d[i + 1] > 40) n++;
      return n;
    });
    expect(red).toBeGreaterThan(50);
    expect(await page.locator('[data-testid=samples-info], #samples-info').textContent()).toMatch(/G version \d+/);
    // The node worker's row.
    await until(async () => (await page.locator('#workers tbody tr[data-kind=node]').count()) === 1, 10_000, 'the worker row');
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard.png'), fullPage: true });
    expect(run.errors).toEqual([]);
  });

  it('(c) refuses a control without the admin token; with it, pause really stops the steps', async () => {
    expect(await page.locator('#controls-note').textContent()).toContain('DUEL_ADMIN_TOKEN');
    await page.fill('#admin-token', '');
    await page.click('#pause');
    const result = page.locator('[data-testid=control-result]');
    await until(async () => (await result.getAttribute('data-status')) !== null, 10_000, 'the control answer');
    expect(await result.getAttribute('data-status')).toBe('401');
    expect(await result.getAttribute('data-code')).toBe('DUEL_ERR_UNAUTHORIZED');
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-control-refused.png') });

    const post = (body: unknown, token?: string) =>
      fetch(`${coord.url}/api/control`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
    const wrong = await post({ action: 'pause' }, 'not-the-token');
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { code: string }).code).toBe('DUEL_ERR_UNAUTHORIZED');
    expect(await page.locator('#run-state').textContent()).not.toBe('paused');

    // With the token (typed into the page): pause holds the step still.
    await page.fill('#admin-token', ADMIN);
    await page.click('#pause');
    await until(async () => (await result.getAttribute('data-status')) === '200', 10_000, 'pause to be accepted');
    await until(async () => (await page.locator('#run-state').textContent()) === 'paused', 10_000, 'the paused badge');
    await new Promise((r) => setTimeout(r, 1500)); // the in-flight round may still close
    const held = (await status(coord.url)).run.step;
    await new Promise((r) => setTimeout(r, 2000));
    expect((await status(coord.url)).run.step).toBe(held);

    // Settings: a bad k is refused with a code and changes nothing; a good one applies; batch size cannot change mid-run.
    const badK = await post({ action: 'set', k: 0 }, ADMIN);
    expect(badK.status).toBe(400);
    expect(((await badK.json()) as { code: string }).code).toBe('DUEL_ERR_BAD_ARGUMENT');
    const fixed = await post({ action: 'set', batchSize: 128 }, ADMIN);
    expect(fixed.status).toBe(409);
    expect(((await fixed.json()) as { code: string }).code).toBe('DUEL_ERR_CONTROL_UNSUPPORTED');
    const ok = await post({ action: 'set', k: 2, lr: { D: 0.5 }, strategy: 'median' }, ADMIN);
    expect(ok.status).toBe(200);
    const run = ((await ok.json()) as { run: { k: number; strategy: string; lrScale: { D: number; G: number } } }).run;
    expect(run).toMatchObject({ k: 2, strategy: 'median', lrScale: { D: 0.5, G: 1 } });

    await page.click('#resume');
    await until(async () => (await status(coord.url)).run.step > held, 30_000, 'steps after resume');
  });

  it('shows a disconnected banner across a coordinator restart, then goes live again with a gap', async () => {
    const pointsBefore = await chartPoints();
    await coord.stop();
    const banner = page.locator('#banner');
    await until(async () => await banner.isVisible(), 15_000, 'the disconnected banner');
    expect(await banner.textContent()).toMatch(/Disconnected from the coordinator since/);
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-disconnected.png') });

    coord = await run.respawn();
    // The worker process reconnects by itself (backoff); the page's EventSource too.
    await until(async () => !(await banner.isVisible()), 30_000, 'the banner to clear');
    const s = await until(async () => (await step()) > 2 && (await step()), 90_000, 'steps on the new coordinator');
    expect(s).toBeGreaterThan(2);
    // The gap is a null point, so the charts hold more points than before, not fewer.
    expect(await chartPoints()).toBeGreaterThan(pointsBefore);
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-after-restart.png'), fullPage: true });
  });
});
