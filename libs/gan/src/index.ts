export * from './tf';
export * from './spec';
export * from './presets';
export * from './init';
export * from './network';
export * from './losses';
export * from './model';
export * from './steps';
