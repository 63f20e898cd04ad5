import { DuelError, ErrorCodes, totalSize, zerosLike, type TensorSpec } from '@duel/util';
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame } from './codec';
import type { ResultFrame, WeightsFrame } from './frames';
import { DEFAULT_LIMITS } from './limits';
import { limitsFor, maxPayloadFor, PAYLOAD_MARGIN_BYTES } from './max-payload';
import { TEST_LAYOUT } from './test-frames';

/** The MLP GAN of SYSTEM.md's measurements, roughly: G 1.49M params, D 0.53M. */
const MLP: { G: TensorSpec[]; D: TensorSpec[] } = {
  G: [
    { name: 'G/d0/kernel', shape: [64, 1024] },
    { name: 'G/d0/bias', shape: [1024] },
    { name: 'G/d1/kernel', shape: [1024, 1024] },
    { name: 'G/d1/bias', shape: [1024] },
    { name: 'G/out/kernel', shape: [1024, 392] },
    { name: 'G/out/bias', shape: [392] },
  ],
  D: [
    { name: 'D/d0/kernel', shape: [784, 640] },
    { name: 'D/d0/bias', shape: [640] },
    { name: 'D/out/kernel', shape: [640, 1] },
    { name: 'D/out/bias', shape: [1] },
  ],
};

function worstResult(phase: 'G' | 'D', layout = TEST_LAYOUT): ResultFrame {
  const id = 'x'.repeat(DEFAULT_LIMITS.maxIdLength);
  const big = Number.MAX_SAFE_INTEGER;
  return {
    t: 'result', taskId: id, workerId: id, phase, versions: { g: big, d: big },
    grads: zerosLike(layout[phase]),
    stats: { loss: Math.PI, dReal: Math.E, dFake: 0.1, samples: big, computeMs: 1e300 },
  };
}

describe('maxPayloadFor', () => {
  it('admits the largest legal frames of a layout and refuses one byte more than the limit', () => {
    const limits = limitsFor(MLP);
    const frames = [worstResult('G', MLP), worstResult('D', MLP)].map(encodeFrame);
    const largest = Math.max(...frames.map((b) => b.length));
    expect(limits.maxFrameBytes).toBe(maxPayloadFor(MLP));
    expect(limits.maxFrameBytes).toBeGreaterThanOrEqual(largest);
    // Tight: the margin is the only slack above the largest tensor frame.
    expect(limits.maxFrameBytes).toBeLessThanOrEqual(largest + PAYLOAD_MARGIN_BYTES + 64);
    for (const b of frames) expect(decodeFrame(b, { layout: MLP, limits }).t).toBe('result');
    const over = new Uint8Array(limits.maxFrameBytes + 1);
    try {
      decodeFrame(over, { layout: MLP, limits });
      expect.unreachable();
    } catch (e) {
      expect((e as DuelError).code).toBe(ErrorCodes.FRAME_TOO_LARGE);
    }
  });

  it('grows with the model and never drops below a maximal welcome', () => {
    expect(maxPayloadFor(MLP)).toBeGreaterThan(4 * totalSize(MLP.G));
    expect(maxPayloadFor(MLP)).toBeGreaterThan(maxPayloadFor(TEST_LAYOUT));
    expect(maxPayloadFor(TEST_LAYOUT)).toBe(8 + DEFAULT_LIMITS.maxHeaderBytes + PAYLOAD_MARGIN_BYTES);
  });

  it('covers weights frames as well as results', () => {
    const w: WeightsFrame = { t: 'weights', net: 'G', version: Number.MAX_SAFE_INTEGER, tensors: zerosLike(MLP.G) };
    expect(encodeFrame(w).length).toBeLessThanOrEqual(maxPayloadFor(MLP));
  });
});
