import { describe, expect, it } from 'vitest';
import { runDuel } from '../support/cli';
import { RING8_HQ_GUARD, RING8_STEPS } from './steps';

/** The distributed trainer over real processes and loopback WebSockets meets the same bar as the local one. */
describe('duel train --dataset ring8 --workers 3', () => {
  it(`reaches 8/8 modes and hq ≥ ${RING8_HQ_GUARD}`, async () => {
    const r = await runDuel(['train', '--dataset', 'ring8', '--workers', '3', '--steps', String(RING8_STEPS), '--seed', '1', '--json'], {
      timeoutMs: 2_400_000,
    });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const s = r.json<{ quality: { modes: number; hq: number }; steps: number }>();
    process.stderr.write(`[quality] distributed ring8 3 workers: ${JSON.stringify(s.quality)}\n`);
    expect(s.steps).toBe(RING8_STEPS);
    expect(s.quality.modes).toBe(8);
    expect(s.quality.hq).toBeGreaterThanOrEqual(RING8_HQ_GUARD);
  });
});
