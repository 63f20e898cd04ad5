#!/usr/bin/env node
'use strict';
// The duel CLI runs the TypeScript sources directly through tsx (esbuild), so
// `npm install` is the whole set-up: there is no build step to forget.
require('tsx/cjs');
require('../apps/cli/src/main.ts');
