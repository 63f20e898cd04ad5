import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const DUEL_BIN = resolve(__dirname, '../../bin/duel.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The last stdout line parsed as JSON (the `--json` summary). */
  json: <T = Record<string, unknown>>() => T;
}

/** Runs `duel ARGS` as a real child process and collects its output. */
export function runDuel(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, [DUEL_BIN, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      fail(new Error(`duel ${args.join(' ')} timed out; stderr:\n${stderr.slice(-4000)}`));
    }, opts.timeoutMs ?? 300_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      done({
        code,
        stdout,
        stderr,
        json: <T>() => {
          const last = stdout.trim().split('\n').at(-1) ?? '';
          try {
            return JSON.parse(last) as T;
          } catch {
            throw new Error(`no JSON summary on stdout (code ${code}); stderr:\n${stderr.slice(-4000)}`);
          }
        },
      });
    });
  });
}
