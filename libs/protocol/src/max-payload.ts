import type { TensorSpec } from '@duel/util';
import { FRAME_PREFIX_BYTES, packHeader } from './codec';
import type { Net } from './frames';
import { DEFAULT_LIMITS, type ProtocolLimits } from './limits';
import { alignUp, planFromSpecs } from './tensor-section';
import type { Layout } from './validate';

/** Headroom over the largest legal frame: room for fields a newer minor version may add. */
export const PAYLOAD_MARGIN_BYTES = 64 * 1024;

/** Bytes of the largest weights or result frame this layout allows (worst-case header values). */
function largestTensorFrame(specs: readonly TensorSpec[], net: Net, limits: ProtocolLimits): number {
  const { descriptors, sectionBytes } = planFromSpecs(specs);
  const longId = 'x'.repeat(limits.maxIdLength);
  const big = Number.MAX_SAFE_INTEGER;
  // Non-integers and integers ≥ 2^32 both cost msgpack's widest 9-byte form.
  const result = {
    t: 'result',
    taskId: longId,
    workerId: longId,
    phase: net,
    versions: { g: big, d: big },
    grads: descriptors,
    stats: { loss: 0.1, dReal: 0.1, dFake: 0.1, samples: big, computeMs: 0.1 },
  };
  const weights = { t: 'weights', net, version: big, tensors: descriptors };
  const header = Math.max(packHeader(result).length, packHeader(weights).length);
  return alignUp(FRAME_PREFIX_BYTES + header) + sectionBytes;
}

/**
 * The WebSocket `maxPayload` for a run (ws server option, and `limits.maxFrameBytes`):
 * the largest legal frame for this layout (a weights or result frame of the
 * bigger net, or a welcome with the largest allowed header) plus a margin.
 */
export function maxPayloadFor(layout: Layout, limits: ProtocolLimits = DEFAULT_LIMITS): number {
  const largest = Math.max(
    largestTensorFrame(layout.G, 'G', limits),
    largestTensorFrame(layout.D, 'D', limits),
    FRAME_PREFIX_BYTES + limits.maxHeaderBytes,
  );
  return largest + PAYLOAD_MARGIN_BYTES;
}

/** Limits sized to a run's model: `maxFrameBytes = maxPayloadFor(layout)`. */
export function limitsFor(layout: Layout, base: ProtocolLimits = DEFAULT_LIMITS): ProtocolLimits {
  return { ...base, maxFrameBytes: maxPayloadFor(layout, base) };
}
