import { compressWithFeedback, FP32, formatCodecSpec, zeroResidual, type CodecName, type CodecSpec, type Net, type Residual, type WireTensor } from '@duel/protocol';
import type { NamedWeights } from '@duel/util';

/** What this worker can send (hello.capabilities.codecs when the runtime names none). */
export const SUPPORTED_CODECS: readonly CodecName[] = ['fp32', 'fp16', 'int8', 'topk'];

/**
 * The worker's side of gradient compression: the codec the coordinator asked
 * for (welcome.codec) and one error-feedback residual per net (PROTOCOL.md
 * §3.4). The residual is what compression has not yet delivered; it is added
 * to the next gradient of the same net, so over many steps the coordinator
 * receives the sum of the true gradients up to one bounded residual.
 *
 * It starts over (zero residual) when the codec or the run changes; it is kept
 * across reconnects to the same run, like the model.
 */
export class GradientCompressor {
  private spec: CodecSpec = FP32;
  private key = '';
  private residual: Partial<Record<Net, Residual>> = {};

  get codec(): CodecSpec {
    return this.spec;
  }

  /** Sets the codec for `runKey`; a different codec or run clears the residuals. */
  configure(codec: CodecSpec | undefined, runKey: string): void {
    const spec = codec ?? FP32;
    const key = `${runKey}|${formatCodecSpec(spec)}`;
    if (key === this.key) return;
    this.key = key;
    this.spec = spec;
    this.residual = {};
  }

  /** The wire tensors for one gradient of `net`, and the residual updated in place. */
  compress(net: Net, grads: NamedWeights): WireTensor[] {
    if (this.spec.name === 'fp32') return grads;
    const r = (this.residual[net] ??= zeroResidual(grads));
    return compressWithFeedback(grads, r, this.spec);
  }

  /** Largest |residual| entry of `net` (0 when none): for logs and tests. */
  residualMax(net: Net): number {
    let m = 0;
    for (const r of this.residual[net] ?? []) for (const v of r) m = Math.max(m, Math.abs(v));
    return m;
  }

  reset(): void {
    this.key = '';
    this.spec = FP32;
    this.residual = {};
  }
}
