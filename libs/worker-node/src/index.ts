export { runWorker, type RunWorkerOptions, type WorkerHandle } from './run-worker';
export { parseWorkerArgs, workerCommand } from './worker.command';
