/**
 * Shared helpers for `npm run bench`: the machine line every table carries,
 * Markdown tables, medians, and child processes (tsx scripts and the duel CLI)
 * whose last stdout line is a JSON summary.
 */
import { stopProcess } from '../../apps/cli/src/distributed-run';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');
export const DUEL_BIN = resolve(ROOT, 'bin/duel.js');

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  date: string;
  commit: string;
}

export function machine(): Machine {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  const dirty = git('status', '--porcelain', '--untracked-files=no') ? '+dirty' : '';
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    commit: (git('rev-parse', '--short', 'HEAD') || 'unknown') + dirty,
  };
}

/**
 * The caption under every table: the numbers mean nothing without it. The load
 * average (read when the figure ends) says how much of the machine other work had.
 */
export function caption(m: Machine): string {
  return `_${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.date}, commit ${m.commit}; 1-min load average ${loadavg()[0].toFixed(1)} at the end of this figure._`;
}

export function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.map(String).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

// In step-timer.ts, which tools/device bundles without this module's imports.
export { median } from './step-timer';

export function fmt(x: number, digits = 1): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A figure's result: a Markdown section (heading, prose, table, caption) and a one-line console summary. */
export interface Section {
  title: string;
  markdown: string;
  summary: string;
}

export function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

/** Starts a TypeScript script under tsx, like `npm run bench` itself. */
export function spawnTs(script: string, args: string[], opts: { nodeArgs?: string[]; stdio?: 'pipe' | 'ignore' } = {}): ChildProcess {
  return spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', resolve(__dirname, script), ...args], {
    cwd: ROOT,
    stdio: ['ignore', opts.stdio ?? 'pipe', 'pipe'],
  });
}

/** Starts `node bin/duel.js ARGS`. */
export function spawnDuel(args: string[]): ChildProcess {
  return spawn(process.execPath, [DUEL_BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Waits for a child and parses its last stdout line as JSON; rejects with its stderr tail on failure. */
export function lastJsonLine<T>(p: ChildProcess, what: string): Promise<T> {
  let out = '';
  let err = '';
  p.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  p.stderr?.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-4000)));
  return new Promise((done, fail) => {
    p.once('error', fail);
    p.once('exit', (code, signal) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code ?? signal}`);
        done(JSON.parse(last) as T);
      } catch (e) {
        fail(new Error(`${what}: ${(e as Error).message}\n${err.split('\n').slice(-15).join('\n')}`));
      }
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export function stop(p: ChildProcess, graceMs = 3000): Promise<void> {
  return stopProcess(p, graceMs);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** utime + stime of a process in seconds, from /proc (Linux); NaN where unreadable. */
export function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" of the command name: utime and stime are the 12th and 13th.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

/**
 * The sum of a Prometheus sample over the series whose labels include `labels`
 * (`name` exactly, or `name{...}`), from /metrics text; 0 when none.
 */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!(line.startsWith(`${name} `) || line.startsWith(`${name}{`))) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.split(' ').at(-1));
  }
  return sum;
}
