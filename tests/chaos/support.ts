import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { DUEL_BIN } from '../support/cli';

/**
 * Real processes for the chaos suite: `duel coordinator`, `duel worker` and
 * `redis-server` as children, each with its output kept for reports and
 * counters, plus small HTTP and polling helpers.
 */

export interface Proc {
  p: ChildProcess;
  name: string;
  /** Every stderr line (the JSON logs of workers and coordinators). */
  lines: string[];
  exited: Promise<number | null>;
}

const all = new Set<Proc>();

export function start(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines: string[] = [];
  const take = (s: string) => lines.push(...s.split('\n').filter(Boolean));
  p.stdout!.setEncoding('utf8').on('data', take);
  p.stderr!.setEncoding('utf8').on('data', take);
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  const proc = { p, name, lines, exited };
  all.add(proc);
  void exited.then(() => all.delete(proc));
  return proc;
}

export function duel(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  return start(name, process.execPath, [DUEL_BIN, ...args], env);
}

export function alive(p: Proc): boolean {
  return p.p.exitCode === null && p.p.signalCode === null;
}

/** SIGKILL and wait for the exit. */
export async function kill9(p: Proc): Promise<void> {
  if (alive(p)) p.p.kill('SIGKILL');
  await p.exited;
}

/** SIGTERM, then SIGKILL after graceMs. */
export async function stop(p: Proc, graceMs = 10_000): Promise<void> {
  if (!alive(p)) return;
  const t = setTimeout(() => p.p.kill('SIGKILL'), graceMs);
  p.p.kill('SIGTERM');
  await p.exited;
  clearTimeout(t);
}

/** Stops every process this module started that is still running (afterAll). */
export async function stopEverything(): Promise<void> {
  await Promise.all([...all].map((p) => kill9(p)));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let v: T | null | undefined | false = null;
    try {
      v = await probe();
    } catch {
      v = null;
    }
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits until `url` answers JSON; fails at once with the process's output if it exits first. */
export async function upOrDie<T = Record<string, unknown>>(p: Proc, url: string, timeoutMs = 120_000): Promise<T> {
  return until(`${p.name} up at ${url}`, timeoutMs, async () => {
    if (!alive(p)) throw new Error(`${p.name} exited (${p.p.exitCode ?? p.p.signalCode}):\n${p.lines.slice(-20).join('\n')}`);
    return getJson<T>(url);
  }, 100).catch((e: Error) => {
    throw new Error(`${e.message}\n${p.name} output:\n${p.lines.slice(-20).join('\n')}`);
  });
}

export async function getJson<T = Record<string, unknown>>(url: string): Promise<T> {
  const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

export interface Status {
  run: { id: string; step: number; steps: number; versions: { g: number; d: number }; state: string };
  workers: { id: string; accepted: number; rejected: number }[];
}

export interface RecoveryStatus {
  store: { kind: string; behind: boolean };
  resumedFrom: { checkpoint: string; step: number; refused: unknown[] } | null;
  appliedResults: number;
  step: number;
  weightsDigest: string;
  checkpoints: { written: number; failed: number; catchUps: number; last: { step: number; ms: number; bytes: number } | null };
}

/** Sum of a Prometheus counter's samples whose labels match `labels` (a substring of the label set). */
export async function metricSum(base: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^(\w+)(\{[^}]*\})? ([-+\d.eE]+|NaN)$/.exec(line);
    if (m && m[1] === name && (m[2] ?? '').includes(labels)) sum += Number(m[3]);
  }
  return sum;
}

/** The last JSON log line of `p` with this event name. */
export function lastEvent(p: Proc, event: string): Record<string, unknown> | null {
  for (let i = p.lines.length - 1; i >= 0; i--) {
    if (!p.lines[i].includes(`"${event}"`)) continue;
    try {
      const j = JSON.parse(p.lines[i]);
      if (j.event === event) return j;
    } catch {
      // not JSON
    }
  }
  return null;
}

export function countEvents(p: Proc, event: string): number {
  return p.lines.filter((l) => l.includes(`"event":"${event}"`)).length;
}

/** Prints a measurement line the BENCHMARKS "Recovery" section quotes. */
export function report(what: string, fields: Record<string, unknown>): void {
  process.stderr.write(`[chaos] ${what}: ${JSON.stringify(fields)}\n`);
}
