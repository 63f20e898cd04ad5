export * from './run-config';
export * from './task';
export * from './training-state';
export * from './local-trainer';
export * from './evaluate';
