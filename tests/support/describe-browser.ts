import { existsSync } from 'node:fs';
import { describe, it } from 'vitest';
import { CHROMIUM } from './browser';

// Kept apart from browser.ts: the bench (tools/bench/fig-volunteer.ts) loads that file outside
// vitest, where importing vitest throws.

/**
 * describe() for tests that need Chromium. Without it, a local run skips them
 * and says why; in CI (CI=true) a missing Chromium is a failure (.ci/run
 * installs it with apt-get).
 */
export function describeBrowser(name: string, fn: () => void): void {
  if (existsSync(CHROMIUM)) {
    describe(name, fn);
    return;
  }
  if (process.env['CI'] === 'true') {
    describe(name, () => {
      it('needs Chromium', () => {
        throw new Error(`${CHROMIUM} is missing; CI must install it (apt-get install -y chromium, see .ci/run)`);
      });
    });
    return;
  }
  console.warn(`[browser tests] SKIPPED "${name}": ${CHROMIUM} not found. Install it with: apt-get install -y chromium`);
  describe.skip(name, fn);
}
