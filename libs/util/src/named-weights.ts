import { DuelError, ErrorCodes } from './errors';

/** One named tensor as it travels: data in row-major order plus its shape. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * Weights, gradients and optimizer moments all use this form: a list of named
 * Float32Arrays in one canonical order (the order of the model spec). It is the
 * unit the coordinator stores, aggregates and sends.
 */
export type NamedWeights = NamedTensor[];

export interface TensorSpec {
  name: string;
  shape: number[];
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function totalSize(ws: readonly { shape: number[] }[]): number {
  let n = 0;
  for (const w of ws) n += sizeOf(w.shape);
  return n;
}

/** Deep copy (fresh Float32Arrays). */
export function cloneWeights(ws: NamedWeights): NamedWeights {
  return ws.map((w) => ({ name: w.name, shape: [...w.shape], data: new Float32Array(w.data) }));
}

export function zerosLike(specs: readonly TensorSpec[]): NamedWeights {
  return specs.map((s) => ({ name: s.name, shape: [...s.shape], data: new Float32Array(sizeOf(s.shape)) }));
}

/** Throws SHAPE_MISMATCH unless `ws` has exactly the names, order and shapes of `specs`. */
export function assertLayout(ws: readonly NamedTensor[], specs: readonly TensorSpec[], what = 'weights'): void {
  if (ws.length !== specs.length) {
    throw new DuelError(ErrorCodes.SHAPE_MISMATCH, `${what}: expected ${specs.length} tensors, got ${ws.length}`);
  }
  for (let i = 0; i < specs.length; i++) {
    const w = ws[i];
    const s = specs[i];
    if (w.name !== s.name) {
      throw new DuelError(ErrorCodes.SHAPE_MISMATCH, `${what}[${i}]: expected name ${s.name}, got ${w.name}`);
    }
    if (w.shape.length !== s.shape.length || w.shape.some((d, j) => d !== s.shape[j])) {
      throw new DuelError(
        ErrorCodes.SHAPE_MISMATCH,
        `${what} ${s.name}: expected shape [${s.shape}], got [${w.shape}]`,
      );
    }
    if (w.data.length !== sizeOf(s.shape)) {
      throw new DuelError(ErrorCodes.SHAPE_MISMATCH, `${what} ${s.name}: expected ${sizeOf(s.shape)} values, got ${w.data.length}`);
    }
  }
}

/** True when every value of every tensor is finite. */
export function allFinite(ws: readonly NamedTensor[]): boolean {
  for (const w of ws) {
    const d = w.data;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return false;
  }
  return true;
}

/** L2 norm over all tensors, accumulated in float64. */
export function globalNorm(ws: readonly NamedTensor[]): number {
  let s = 0;
  for (const w of ws) {
    const d = w.data;
    for (let i = 0; i < d.length; i++) s += d[i] * d[i];
  }
  return Math.sqrt(s);
}
