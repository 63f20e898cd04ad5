/**
 * @duel/rounds: the coordinator's round logic as a pure, deterministic state
 * machine, `step(state, event) -> { state, commands }` (etcd raft's shape).
 * Runs in browsers too (platform:shared): no I/O, no clock, no Node built-ins.
 */
export * from './types';
export * from './codes';
export * from './config';
export * from './schedule';
export * from './aggregate-round';
export * from './sync-round';
export * from './validation';
export { RESOLVED_MEMORY } from './effects';
export * from './queries';
export { step } from './machine';
