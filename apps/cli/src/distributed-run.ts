import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { startCoordinator, type RunningCoordinator } from '@duel/coordinator';
import type { CoordinatorOptions } from '@duel/coordinator';

export const DUEL_BIN = resolve(__dirname, '../../../bin/duel.js');

export interface LocalWorkers {
  procs: ChildProcess[];
  /** Last stderr lines per worker, for error reports. */
  tails: string[][];
  stop(): Promise<void>;
}

/** Spawns N real `duel worker` child processes against a coordinator. */
export function spawnWorkers(n: number, wsUrl: string, backend: string, extraEnv: NodeJS.ProcessEnv = {}, extraArgs: (i: number) => string[] = () => []): LocalWorkers {
  const procs: ChildProcess[] = [];
  const tails: string[][] = [];
  for (let i = 0; i < n; i++) {
    const tail: string[] = [];
    const p = spawn(process.execPath, [DUEL_BIN, 'worker', '--coordinator', wsUrl, '--backend', backend, ...extraArgs(i)], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...extraEnv },
    });
    p.stderr!.setEncoding('utf8').on('data', (s: string) => {
      tail.push(...s.split('\n').filter(Boolean));
      if (tail.length > 40) tail.splice(0, tail.length - 40);
    });
    procs.push(p);
    tails.push(tail);
  }
  return {
    procs,
    tails,
    stop: () => stopAll(procs),
  };
}

/** SIGTERM (a worker says bye), then SIGKILL after `graceMs`; resolves when the child has exited. */
export function stopProcess(p: ChildProcess, graceMs = 5000): Promise<void> {
  return new Promise<void>((done) => {
    if (p.exitCode !== null || p.signalCode !== null) return done();
    const kill = setTimeout(() => p.kill('SIGKILL'), graceMs);
    p.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    p.kill('SIGTERM');
  });
}

export async function stopAll(procs: ChildProcess[], graceMs = 5000): Promise<void> {
  await Promise.all(procs.map((p) => stopProcess(p, graceMs)));
}

export interface DistributedResult {
  coordinator: RunningCoordinator;
  workers: LocalWorkers;
  seconds: number;
}

/**
 * Starts a coordinator and N local worker processes and waits until the run
 * completes, showing a progress bar on stderr unless `quiet`.
 */
export async function runDistributed(
  opts: CoordinatorOptions,
  n: number,
  backend: string,
  io: {
    quiet?: boolean;
    onStarted?: (c: RunningCoordinator) => void;
    workerArgs?: (i: number) => string[];
    /**
     * As `duel local --eval-every`: a quality report (into the service's qualityHistory) about every N-th step. The
     * progress timer starts it and the run does not wait, so the step it names is the one it started at. 0: none.
     */
    evalEvery?: number;
  } = {},
): Promise<DistributedResult> {
  const coordinator = await startCoordinator(opts);
  io.onStarted?.(coordinator);
  const workers = spawnWorkers(n, coordinator.wsUrl, backend, {}, io.workerArgs);
  const svc = coordinator.service;
  const bar = io.quiet
    ? null
    : new SingleBar(
        {
          format: 'train [{bar}] {value}/{total} | D {dLoss} G {gLoss} | D(x) {dReal} D(G(z)) {dFake} | {ips} img/s | {workers} workers',
          stream: process.stderr,
          hideCursor: true, noTTYOutput: true, notTTYSchedule: 10_000,
        },
        Presets.shades_classic,
      );
  bar?.start(opts.run.steps, 0, { dLoss: '-', gLoss: '-', dReal: '-', dFake: '-', ips: '-', workers: 0 });
  const t0 = performance.now();
  const fmt = (v: number | null, d: number) => (v === null ? '-' : v.toFixed(d));
  const evalEvery = io.evalEvery ?? 0;
  let nextEval = evalEvery;
  const timer = setInterval(() => {
    if (evalEvery > 0 && svc.state.step >= nextEval) {
      nextEval = (Math.floor(svc.state.step / evalEvery) + 1) * evalEvery;
      svc.evaluate().catch((e: Error) => process.stderr.write(`quality evaluation at step ${svc.state.step} failed: ${e.message}\n`));
    }
    const m = svc.recorder.latest;
    bar?.update(svc.state.step, {
      dLoss: fmt(m.dLoss, 3),
      gLoss: fmt(m.gLoss, 3),
      dReal: fmt(m.dReal, 2),
      dFake: fmt(m.dFake, 2),
      ips: m.imgsPerSec,
      workers: svc.workerStats().filter((w) => w.connected).length,
    });
    const dead = workers.procs.filter((p) => p.exitCode !== null && p.exitCode !== 0);
    if (dead.length === workers.procs.length) {
      clearInterval(timer);
      bar?.stop();
      process.stderr.write(`all workers exited; last worker output:\n${workers.tails[0].join('\n')}\n`);
    }
  }, 250);
  await svc.whenDone();
  clearInterval(timer);
  bar?.update(svc.state.step);
  bar?.stop();
  return { coordinator, workers, seconds: (performance.now() - t0) / 1000 };
}
