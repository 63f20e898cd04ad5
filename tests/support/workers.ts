export { spawnWorkers, stopAll, type LocalWorkers } from '../../apps/cli/src/distributed-run';
