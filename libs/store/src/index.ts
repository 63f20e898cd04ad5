/**
 * @duel/store: run state, checkpoints and the worker registry behind one
 * StateStore interface; in memory with atomic checkpoint files (the default),
 * or Redis. Node only.
 */
export * from './state-store';
export * from './checkpoint-codec';
export { CheckpointFiles, atomicWrite } from './checkpoint-files';
export * from './memory-state.store';
export * from './redis-state.store';
export * from './create-store';
export * from './weights-digest';
