import { describe, expect, it } from 'vitest';
import { runDuel } from '../support/cli';
import { RING8_HQ_GUARD, RING8_STEPS } from './steps';

/**
 * Training with compressed gradients meets the ring8 bar that fp32 meets
 * (issue 8): 8/8 modes and hq ≥ RING8_HQ_GUARD = 0.97 at the full schedule
 * (ring8 defaults, RING8_STEPS = 12000), seed 1, each codec sent with error
 * feedback by one real worker process.
 *
 * Until 2026-12-02 a full-length run cost about 6.5 minutes on two idle cores,
 * so this file ran 2000 steps against the shorter bar (RING8_SHORT: hq ≥ 0.62;
 * measured fp16 0.679, int8 0.672). Since the wasm matmul change (2026-12-03,
 * a step 3.4× cheaper) the full length fits: measured with these commands
 * fp16 0.980, int8 0.983, 186 and 183 s (fp32 with 2 workers, `npm run bench -- --only 7`:
 * 0.982; fp16 0.982, int8 0.990 there). With G's learning rate at 2e-3
 * (ring8's default since 2026-12-07): fp16 0.986, int8 0.979 (and the 3-worker
 * run of distributed.test.ts 0.982), run together, 447 s.
 */
const CODEC_STEPS = RING8_STEPS;
const CODEC_HQ_BAR = RING8_HQ_GUARD;
const CODEC_SEED = 1;

interface Summary {
  steps: number;
  quality: { modes: number; hq: number };
}

describe.concurrent(`ring8 with gradient codecs, ${CODEC_STEPS} steps, seed ${CODEC_SEED}`, () => {
  for (const codec of ['fp16', 'int8']) {
    it(`${codec}: 8/8 modes and hq ≥ ${CODEC_HQ_BAR}, as fp32`, async () => {
      const r = await runDuel(
        ['train', '--dataset', 'ring8', '--workers', '1', '--codec', codec, '--steps', String(CODEC_STEPS), '--seed', String(CODEC_SEED), '--backend', 'wasm', '--json'],
        // About 2.5 minutes each, two at once on idle cores (measured 2026-12-03).
        { timeoutMs: 2_400_000 },
      );
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      const s = r.json<Summary>();
      process.stderr.write(`[quality] ring8 ${codec}: ${JSON.stringify(s.quality)}\n`);
      expect(s.steps).toBe(CODEC_STEPS);
      expect(s.quality.modes).toBe(8);
      expect(s.quality.hq).toBeGreaterThanOrEqual(CODEC_HQ_BAR);
    });
  }
});
