import { DuelError, ErrorCodes, sizeOf, type NamedWeights } from '@duel/util';
import type { WireTensor } from '../tensor-section';
import type { CodecSpec } from './codec-spec';
import { decodeTensorInto, encodeTensor } from './coded-tensors';

/**
 * Error feedback (Seide et al. 2014, "1-bit SGD"; Karimireddy et al. 2019,
 * "Error feedback fixes SignSGD"): the sender keeps what compression lost and
 * adds it to the next gradient, so nothing is lost, only delayed:
 *
 *   v = g_t + r_t,   c_t = C(v),   r_{t+1} = v − D(c_t)
 *
 * Summed over T steps, Σ D(c_t) = Σ g_t + r_0 − r_T: what was sent equals what
 * was computed up to one bounded residual. For int8, |r| ≤ max|v|/254 per
 * element, so max|r| ≤ max|g| / 253 for ever; top-k's residual is bounded by
 * its contraction (Stich et al. 2018). Tests in error-feedback.spec.ts.
 */

/** One residual array per tensor, in the layout of the gradients. */
export type Residual = Float32Array[];

export function zeroResidual(ws: readonly { shape: number[] }[]): Residual {
  return ws.map((w) => new Float32Array(sizeOf(w.shape)));
}

/**
 * Compresses `grads` with error feedback: updates `residual` in place and
 * returns the wire tensors to send. fp32 is lossless and leaves the residual
 * at 0. Throws SHAPE_MISMATCH when the residual's layout differs.
 */
export function compressWithFeedback(grads: NamedWeights, residual: Residual, codec: CodecSpec): WireTensor[] {
  if (residual.length !== grads.length) {
    throw new DuelError(ErrorCodes.SHAPE_MISMATCH, `residual has ${residual.length} tensors, gradients ${grads.length}`);
  }
  return grads.map((g, k) => {
    const r = residual[k];
    if (r.length !== g.data.length) throw new DuelError(ErrorCodes.SHAPE_MISMATCH, `residual ${g.name}: ${r.length} values, gradient ${g.data.length}`);
    if (codec.name === 'fp32') return { name: g.name, shape: g.shape, data: g.data };
    for (let i = 0; i < r.length; i++) r[i] += g.data[i];
    const wire = encodeTensor(g.name, g.shape, r, codec);
    const sent = decodeTensorInto(codec.name, wire, new Float32Array(r.length));
    for (let i = 0; i < r.length; i++) r[i] -= sent[i];
    return wire;
  });
}
