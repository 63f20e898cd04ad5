export * from './rng';
export * from './errors';
export * from './named-weights';
export * from './log-format';
