/**
 * @duel/aggregation: the server-side optimizer and the aggregation strategies.
 * Runs in browsers too (platform:shared): no Node built-ins here.
 */
export * from './adam';
export * from './adam-kernel';
export * from './mean-kernel';
export * from './kernels';
export * from './gradient-buffers';
export * from './staleness';
export * from './strategy';
export * from './create-strategy';
export * from './strategies/mean.strategy';
export * from './strategies/median.strategy';
export * from './strategies/trimmed-mean.strategy';
export * from './strategies/norm-clipped-mean.strategy';
export * from './strategies/krum.strategy';
export * from './strategies/norm-screen.strategy';
export * from './strategies/history-screen.strategy';
export * from './strategies/strategy-spec';
export * from './strategies/screen-strategy';
