/**
 * Bounds every decoder enforces before it allocates or trusts anything. A frame
 * over a bound is refused with FRAME_TOO_LARGE (sizes) or BAD_FRAME (counts).
 */
export interface ProtocolLimits {
  /** Whole frame in bytes. Set it from the model with `limitsFor(layout)`. */
  maxFrameBytes: number;
  /** The msgpack header; the welcome frame carries the model spec, so allow some room. */
  maxHeaderBytes: number;
  /** Tensors in one weights/result frame. */
  maxTensors: number;
  /** Dimensions of one tensor. */
  maxRank: number;
  /** Elements of one tensor (2^28 float32 = 1 GiB, far above any frame we accept). */
  maxTensorElements: number;
  /** Ids: workerId, taskId, run id. */
  maxIdLength: number;
  /** Tensor names, dataset, loss, backend, device, codec names. */
  maxNameLength: number;
  /** Free text: error messages, bye reasons. */
  maxTextLength: number;
  /** hello.token. */
  maxTokenLength: number;
  /** Entries of hello.capabilities.codecs. */
  maxCodecs: number;
  /** Nesting of the opaque model spec JSON. */
  maxJsonDepth: number;
  /** Values (objects, arrays, scalars) of the opaque model spec JSON. */
  maxJsonNodes: number;
}

export const DEFAULT_LIMITS: Readonly<ProtocolLimits> = Object.freeze({
  // 64 MiB holds a 16M-parameter net; the MLP GAN of SYSTEM.md is 1.49M (6 MB).
  maxFrameBytes: 64 * 1024 * 1024,
  maxHeaderBytes: 1024 * 1024,
  maxTensors: 1024,
  maxRank: 8,
  maxTensorElements: 2 ** 28,
  maxIdLength: 64,
  maxNameLength: 128,
  maxTextLength: 1024,
  maxTokenLength: 4096,
  maxCodecs: 16,
  maxJsonDepth: 32,
  maxJsonNodes: 100_000,
});

/** DEFAULT_LIMITS with the given overrides; an override left undefined keeps the default (never "no limit"). */
export function resolveLimits(limits?: Partial<ProtocolLimits>): ProtocolLimits {
  if (!limits) return DEFAULT_LIMITS;
  const out: ProtocolLimits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof ProtocolLimits)[]) {
    const v = limits[key];
    if (typeof v === 'number' && !Number.isNaN(v)) out[key] = v;
  }
  return out;
}
