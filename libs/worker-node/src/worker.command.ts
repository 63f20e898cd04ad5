import { parseArgs } from 'node:util';
import { DuelError, ErrorCodes } from '@duel/util';
import { NODE_BACKENDS, runWorker, type NodeBackendPref, type RunWorkerOptions } from './run-worker';

export const WORKER_USAGE = 'duel worker --coordinator ws://HOST:PORT/ws [--token T] [--backend auto|tensorflow|webgpu|wasm|cpu] [--max-batch N]';

/**
 * Parses `duel worker` flags (strict: an unknown flag is DUEL_ERR_BAD_ARGUMENT).
 * The token defaults to $DUEL_WORKER_TOKEN.
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
      },
    }).values;
  } catch (e) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `${(e as Error).message}; usage: ${WORKER_USAGE}`);
  }
  const bad = (msg: string): never => {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `${msg}; usage: ${WORKER_USAGE}`);
  };
  const coordinator = values.coordinator ?? bad('--coordinator is required');
  if (!/^wss?:\/\/[^/\s]+/.test(coordinator)) bad(`--coordinator must be a ws:// or wss:// URL, got "${coordinator}"`);
  const backend = values.backend ?? 'auto';
  if (!(NODE_BACKENDS as readonly string[]).includes(backend)) bad(`--backend must be one of ${NODE_BACKENDS.join('|')}, got "${backend}"`);
  const opts: RunWorkerOptions = { coordinator, backend: backend as NodeBackendPref, kind: 'node' };
  const token = values.token ?? env['DUEL_WORKER_TOKEN'];
  if (token) opts.token = token;
  if (values['max-batch'] !== undefined) {
    const n = Number(values['max-batch']);
    if (!Number.isInteger(n) || n < 1) bad(`--max-batch must be a positive integer, got "${values['max-batch']}"`);
    opts.maxBatch = n;
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
