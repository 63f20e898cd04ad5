import { DuelError, ErrorCodes } from '@duel/util';
import { DEFAULT_TOPK_RATIO } from './topk.codec';

/**
 * Gradient codecs (PROTOCOL.md §3.4). A worker lists the ones it can send in
 * `hello.capabilities.codecs`; the coordinator asks for one in `welcome.codec`
 * (fp32 for a worker that lists none or not the one asked for). Weights always
 * travel as fp32: workers must compute on exactly the coordinator's weights for
 * sync rounds to equal the reference trainer (PROTOCOL.md §9.7).
 */
export const CODEC_NAMES = ['fp32', 'fp16', 'int8', 'topk'] as const;
export type CodecName = (typeof CODEC_NAMES)[number];

export interface CodecSpec {
  name: CodecName;
  /** topk only: the fraction of each tensor's entries sent, in (0, MAX_TOPK_RATIO]. */
  ratio?: number;
}

/** Above half, top-k's 8 bytes per entry cost more than fp32's 4 per value (and would outgrow maxPayloadFor). */
export const MAX_TOPK_RATIO = 0.5;

export const FP32: Readonly<CodecSpec> = Object.freeze({ name: 'fp32' });

export function isCodecName(x: unknown): x is CodecName {
  return typeof x === 'string' && (CODEC_NAMES as readonly string[]).includes(x);
}

/** `fp32`, `fp16`, `int8`, `topk` or `topk:RATIO` (RATIO in (0, 0.5]); BAD_ARGUMENT otherwise. */
export function parseCodecSpec(text: string): CodecSpec {
  const [name, arg, ...rest] = text.trim().split(':');
  if (!isCodecName(name) || rest.length > 0 || (arg !== undefined && name !== 'topk')) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `codec must be one of fp32, fp16, int8, topk[:ratio], got "${text}"`);
  }
  if (name !== 'topk') return { name };
  const ratio = arg === undefined ? DEFAULT_TOPK_RATIO : Number(arg);
  if (!(Number.isFinite(ratio) && ratio > 0 && ratio <= MAX_TOPK_RATIO)) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `topk ratio must be in (0, ${MAX_TOPK_RATIO}], got "${arg}"`);
  }
  return { name, ratio };
}

export function formatCodecSpec(c: CodecSpec): string {
  return c.name === 'topk' ? `topk:${c.ratio ?? DEFAULT_TOPK_RATIO}` : c.name;
}

/** The codec a worker is asked to use: the requested one when it offers it, fp32 otherwise. */
export function negotiateCodec(requested: CodecSpec, offered: readonly string[] | undefined): CodecSpec {
  if (requested.name === 'fp32' || !offered?.includes(requested.name)) return FP32;
  return requested.name === 'topk' ? { name: 'topk', ratio: requested.ratio ?? DEFAULT_TOPK_RATIO } : { name: requested.name };
}
