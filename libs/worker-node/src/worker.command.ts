import { parseArgs } from 'node:util';
import { DuelError, ErrorCodes } from '@duel/util';
import { parseAttacks } from './attacker';
import { maskMode } from './ws-connection';
import { NODE_BACKENDS, runWorker, type NodeBackendPref, type RunWorkerOptions } from './run-worker';

export const WORKER_USAGE =
  'duel worker --coordinator ws://HOST:PORT/ws [--token T] [--backend auto|tensorflow|webgpu|wasm|cpu] [--max-batch N] [--micro-batch N] [--metrics-port P] [--grace-ms MS] [--log-level debug|info|warn|error]';

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * Parses `duel worker` flags (strict: an unknown flag is DUEL_ERR_BAD_ARGUMENT).
 * The token defaults to $DUEL_WORKER_TOKEN, the coordinator URL to $DUEL_COORDINATOR_URL (container images).
 */
export function parseWorkerArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): RunWorkerOptions {
  let values;
  try {
    values = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        coordinator: { type: 'string' },
        token: { type: 'string' },
        backend: { type: 'string', default: 'auto' },
        'max-batch': { type: 'string' },
        'micro-batch': { type: 'string' },
        'metrics-port': { type: 'string' },
        'grace-ms': { type: 'string' },
        'log-level': { type: 'string' },
        attack: { type: 'string' },
        'attack-z': { type: 'string' },
        'attack-seed': { type: 'string' },
      },
    }).values;
  } catch (e) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `${(e as Error).message}; usage: ${WORKER_USAGE}`);
  }
  const bad = (msg: string): never => {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `${msg}; usage: ${WORKER_USAGE}`);
  };
  const coordinator = values.coordinator ?? env['DUEL_COORDINATOR_URL'] ?? bad('--coordinator (or $DUEL_COORDINATOR_URL) is required');
  if (!/^wss?:\/\/[^/\s]+/.test(coordinator)) bad(`--coordinator must be a ws:// or wss:// URL, got "${coordinator}"`);
  const backend = values.backend ?? 'auto';
  if (!(NODE_BACKENDS as readonly string[]).includes(backend)) bad(`--backend must be one of ${NODE_BACKENDS.join('|')}, got "${backend}"`);
  const opts: RunWorkerOptions = { coordinator, backend: backend as NodeBackendPref, kind: 'node' };
  const token = values.token ?? env['DUEL_WORKER_TOKEN'];
  if (token) opts.token = token;
  opts.wsMask = maskMode(env);
  if (values['max-batch'] !== undefined) {
    const n = Number(values['max-batch']);
    if (!Number.isInteger(n) || n < 1) bad(`--max-batch must be a positive integer, got "${values['max-batch']}"`);
    opts.maxBatch = n;
  }
  if (values['micro-batch'] !== undefined) {
    const n = Number(values['micro-batch']);
    if (!Number.isInteger(n) || n < 1) bad(`--micro-batch must be a positive integer, got "${values['micro-batch']}"`);
    opts.microBatch = n;
  }
  if (values['metrics-port'] !== undefined) {
    const port = Number(values['metrics-port']);
    if (!Number.isInteger(port) || port < 0 || port > 65535) bad(`--metrics-port must be in 0..65535, got "${values['metrics-port']}"`);
    opts.metricsPort = port;
  }
  if (values['grace-ms'] !== undefined) {
    const ms = Number(values['grace-ms']);
    if (!Number.isInteger(ms) || ms < 0) bad(`--grace-ms must be a non-negative integer, got "${values['grace-ms']}"`);
    opts.graceMs = ms;
  }
  const level = values['log-level'];
  if (level !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) bad(`--log-level must be one of ${LOG_LEVELS.join('|')}, got "${level}"`);
    opts.logLevel = level as (typeof LOG_LEVELS)[number];
  }
  if (values.attack !== undefined) {
    const z = values['attack-z'] === undefined ? 1 : Number(values['attack-z']);
    const seed = values['attack-seed'] === undefined ? 0 : Number(values['attack-seed']);
    if (!(Number.isFinite(z) && z > 0)) bad(`--attack-z must be > 0, got "${values['attack-z']}"`);
    if (!(Number.isInteger(seed) && seed >= 0)) bad(`--attack-seed must be an integer >= 0, got "${values['attack-seed']}"`);
    opts.attack = { attacks: parseAttacks(values.attack, env), z, seed };
  }
  return opts;
}

/**
 * `duel worker`: runs until SIGTERM/SIGINT, then finishes the in-flight task
 * (a few seconds of grace at most), says bye and returns 0. A permanent error
 * (bad token, dataset missing here) rejects with its DuelError.
 */
export async function workerCommand(argv: string[]): Promise<number> {
  const handle = await runWorker(parseWorkerArgs(argv));
  const onSignal = (signal: NodeJS.Signals) => void handle.stop(signal);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    await handle.done;
    return 0;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
