import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

// Mirror tsconfig.base.json "paths" so tests import libs by their public name.
const base = JSON.parse(readFileSync(resolve(__dirname, 'tsconfig.base.json'), 'utf8'));
const alias = Object.fromEntries(
  Object.entries(base.compilerOptions.paths as Record<string, string[]>).map(([k, v]) => [k, resolve(__dirname, v[0])]),
);

export default defineConfig({
  resolve: { alias },
  test: {
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['libs/**/*.spec.ts', 'apps/**/*.spec.ts', 'tests/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'quality',
          include: ['tests/quality/**/*.test.ts'],
          // Each test trains in child processes; two at a time fill the 2 cores.
          fileParallelism: false,
          maxConcurrency: 2,
          testTimeout: 2_700_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
