#!/usr/bin/env node
'use strict';
// The duel CLI runs the TypeScript sources directly through tsx (esbuild), so
// `npm install` is the whole set-up: there is no build step to forget. Both
// hooks are registered: CommonJS for static imports, ESM for dynamic import().
require('tsx/cjs/api').register();
import('tsx/esm/api')
  .then((esm) => {
    esm.register();
    require('../apps/cli/src/main.ts');
  })
  .catch((e) => {
    process.stderr.write(`duel: cannot start: ${e && e.stack ? e.stack : e}\n`);
    process.exitCode = 1;
  });
