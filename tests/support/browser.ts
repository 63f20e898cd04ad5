import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { StatusResponse, StatusWorker } from '@duel/api-types';
import { stopProcess } from '../../apps/cli/src/distributed-run';
import { DUEL_BIN } from './cli';
import { spawnWorkers, type LocalWorkers } from './workers';

/**
 * What the browser tests (tests/browser) and the volunteer bench figure share:
 * Debian Chromium with SYSTEM.md's flags, a fresh web build, a real
 * `duel coordinator` child process, and the set-up of one run watched by a page.
 */

export const ROOT = resolve(__dirname, '../..');
export const CHROMIUM = process.env['DUEL_CHROMIUM'] ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'tmp/screenshots');
const WEB_DIST = join(ROOT, 'dist/apps/web');

/** SYSTEM.md's flags for Debian Chromium on these machines (playwright adds --headless and a fresh profile dir). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** Newest modification time under these directories (source files only). */
function newest(dirs: string[]): number {
  let t = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|html|css|json)$/.test(e.name) && !e.name.endsWith('.spec.ts')) t = Math.max(t, statSync(p).mtimeMs);
    }
  };
  for (const d of dirs) if (existsSync(d)) walk(d);
  return t;
}

/**
 * Builds apps/web (npm run build:web) when dist/apps/web is missing or older
 * than the sources it bundles, so the tests never run against a stale build.
 * A lock directory keeps two test files from building at once.
 */
export async function ensureWebBuild(): Promise<void> {
  const sources = ['apps/web', ...['gan', 'protocol', 'worker-core', 'datasets', 'util', 'trainer', 'api-types'].map((l) => `libs/${l}/src`)].map((d) => join(ROOT, d));
  const lock = join(ROOT, 'tmp/web-build.lock');
  mkdirSync(join(ROOT, 'tmp'), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    const built = existsSync(join(WEB_DIST, 'volunteer.html')) ? statSync(join(WEB_DIST, 'volunteer.html')).mtimeMs : 0;
    if (built > newest(sources)) return;
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'apps/web/vite.config.ts', '--logLevel', 'warn'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (r.status !== 0) throw new Error(`npm run build:web failed:\n${r.stderr}\n${r.stdout}`);
  } finally {
    rmdirSync(lock);
  }
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

export interface CoordinatorProcess {
  proc: ChildProcess;
  url: string;
  wsUrl: string;
  log: string[];
  stop(): Promise<void>;
}

/** `duel coordinator` as a real child process; resolves once /api/status answers. */
export async function spawnCoordinator(port: number, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CoordinatorProcess> {
  const log: string[] = [];
  const proc = spawn(process.execPath, [DUEL_BIN, 'coordinator', '--port', String(port), '--host', '127.0.0.1', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  for (const s of [proc.stdout!, proc.stderr!]) {
    s.setEncoding('utf8').on('data', (d: string) => {
      log.push(...d.split('\n').filter(Boolean));
      if (log.length > 200) log.splice(0, log.length - 200);
    });
  }
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`coordinator exited with ${proc.exitCode}:\n${log.join('\n')}`);
    try {
      if ((await fetch(`${url}/api/status`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`coordinator did not answer in 60 s:\n${log.join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { proc, url, wsUrl: `ws://127.0.0.1:${port}/ws`, log, stop: () => stopProcess(proc) };
}

export async function until<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function status(url: string): Promise<StatusResponse> {
  return (await fetch(`${url}/api/status`)).json() as Promise<StatusResponse>;
}

export interface BrowserRunOptions {
  /** `duel coordinator` flags (after --port and --host). */
  args: string[];
  env?: NodeJS.ProcessEnv;
  viewport: { width: number; height: number };
  /** The page opens once a node worker shows this in /api/status; by default, once it has joined. */
  workerReady?: (w: StatusWorker) => boolean;
}

/** One run watched by a page: a coordinator, one node worker process (cpu), and Chromium. */
export interface BrowserRun {
  port: number;
  /** The coordinator now; respawn() replaces it. */
  coord: CoordinatorProcess;
  workers: LocalWorkers;
  browser: Browser;
  page: Page;
  /** Uncaught errors of `page` (the tests expect none). */
  errors: string[];
  /** A new coordinator on the same port with the same flags (after `coord.stop()`). */
  respawn(): Promise<CoordinatorProcess>;
  stop(): Promise<void>;
}

/** Builds the web pages if stale, starts the coordinator and a node worker, waits for the worker, then opens a page. */
export async function startBrowserRun(o: BrowserRunOptions): Promise<BrowserRun> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await ensureWebBuild();
  const port = await freePort();
  const coord = await spawnCoordinator(port, o.args, o.env);
  const workers = spawnWorkers(1, coord.wsUrl, 'cpu');
  const ready = o.workerReady ?? (() => true);
  await until(async () => (await status(coord.url)).workers.some((w) => w.kind === 'node' && ready(w)), 120_000, 'the node worker');
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: o.viewport });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const run: BrowserRun = {
    port,
    coord,
    workers,
    browser,
    page,
    errors,
    respawn: async () => (run.coord = await spawnCoordinator(port, o.args, o.env)),
    stop: async () => {
      await browser.close();
      await workers.stop();
      await run.coord.stop();
    },
  };
  return run;
}
