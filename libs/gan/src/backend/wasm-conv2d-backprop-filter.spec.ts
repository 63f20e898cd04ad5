import '@tensorflow/tfjs-backend-wasm';
import { Rng } from '@duel/util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf';
import { relErr } from './kernel-fixtures';
import { fitFilterGradPads, registerWasmConvKernels } from './wasm-conv2d-backprop-filter';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  b: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  k: number;
  s: number;
  pad: Pad;
  nchw?: boolean;
}

const rng = new Rng(20261123);
function randn(n: number): Float32Array {
  const a = new Float32Array(n);
  rng.fillNormal(a, 0, 1);
  return a;
}

async function onBackend<T>(name: string, f: () => Promise<T>): Promise<T> {
  expect(await tf.setBackend(name)).toBe(true);
  return f();
}

/** Runs the Conv2DBackpropFilter kernel itself on the current backend. */
async function filterGrad(c: Case, x: Float32Array, dy: Float32Array, dyShape: number[]): Promise<Float32Array> {
  const xt = tf.tensor4d(x, c.nchw ? [c.b, c.ci, c.h, c.w] : [c.b, c.h, c.w, c.ci]);
  const dyt = tf.tensor(dy, dyShape);
  const dataFormat = c.nchw ? 'NCHW' : 'NHWC';
  const dw = tf.engine().runKernel(
    'Conv2DBackpropFilter',
    { x: xt, dy: dyt },
    { strides: [c.s, c.s], pad: c.pad, dataFormat, filterShape: [c.k, c.k, c.ci, c.co] } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
  const out = (await dw.data()) as Float32Array;
  tf.dispose([xt, dyt, dw]);
  return out;
}

function outShape(c: Case): number[] {
  const xShape: [number, number, number, number] = c.nchw ? [c.b, c.ci, c.h, c.w] : [c.b, c.h, c.w, c.ci];
  const info = tf.backend_util.computeConv2DInfo(xShape, [c.k, c.k, c.ci, c.co], c.s, 1, c.pad, undefined, false, c.nchw ? 'channelsFirst' : 'channelsLast');
  return info.outShape;
}

const cases: Case[] = [];
for (const s of [1, 2]) {
  for (const k of [3, 4, 5]) {
    for (const pad of ['same', 'valid'] as const) {
      const i = cases.length;
      cases.push({ b: 1 + (i % 8), h: 7 + (i % 5), w: 8 + (i % 4), ci: [1, 3, 8, 16][i % 4], co: [16, 1, 5, 8][i % 4], k, s, pad });
    }
  }
}
// Explicit, asymmetric pads; a stride that leaves unused tail rows; batch 8 × 16 channels.
cases.push({ b: 2, h: 9, w: 10, ci: 3, co: 4, k: 3, s: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] });
cases.push({ b: 3, h: 12, w: 11, ci: 2, co: 3, k: 4, s: 3, pad: 'valid' });
cases.push({ b: 8, h: 8, w: 8, ci: 16, co: 16, k: 5, s: 2, pad: 'same' });
// NCHW (the wasm forward Conv2D has no NCHW, but the gradient kernel takes it).
cases.push({ b: 2, h: 9, w: 8, ci: 3, co: 4, k: 3, s: 2, pad: 'same', nchw: true });

describe('wasm Conv2DBackpropFilter', () => {
  let previous: string | undefined;
  beforeAll(() => {
    previous = tf.getBackend();
    registerWasmConvKernels();
  });
  afterAll(async () => {
    // Backends are global state: leave the one we found (none before the first use).
    if (previous) await tf.setBackend(previous);
  });

  it('is registered once, and registering again is a no-op', () => {
    const first = tf.getKernel('Conv2DBackpropFilter', 'wasm');
    expect(first).toBeDefined();
    registerWasmConvKernels();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBe(first);
  });

  it('fits pads to exactly k taps where the trailing pad allows', () => {
    // valid, 9 → 4 with k 3, s 2: taps 9 − 6 = 3.
    expect(fitFilterGradPads(9, 4, 2, 3, 0, 0)).toEqual([0, 0, 0]);
    // valid, 10 → 4: one unused row, no pad to trim → crop 1.
    expect(fitFilterGradPads(10, 4, 2, 3, 0, 0)).toEqual([0, 0, 1]);
    // same, 8 → 4, k 5: total pad 3 → taps 5.
    expect(fitFilterGradPads(8, 4, 2, 5, 1, 2)).toEqual([1, 2, 0]);
    // too few taps (ceil rounding): pad the tail with zeros.
    expect(fitFilterGradPads(5, 3, 2, 3, 0, 0)).toEqual([0, 2, 0]);
  });

  it.each(cases.map((c) => [JSON.stringify(c), c] as const))('matches the cpu kernel: %s', async (_, c) => {
    const x = randn(c.b * c.h * c.w * c.ci);
    const dyShape = outShape(c);
    const dy = randn(dyShape.reduce((p, d) => p * d, 1));
    const ref = await onBackend('cpu', () => filterGrad(c, x, dy, dyShape));
    const got = await onBackend('wasm', () => filterGrad(c, x, dy, dyShape));
    expect(relErr(got, ref)).toBeLessThan(1e-4);
    // It can fail: a wrong tap offset is far off.
    expect(ref.some((v) => Math.abs(v) > 1e-3)).toBe(true);
  });

  it('frees every intermediate (engine tensors and wasm data ids)', async () => {
    const c = cases[5];
    const x = randn(c.b * c.h * c.w * c.ci);
    const dyShape = outShape(c);
    const dy = randn(dyShape.reduce((p, d) => p * d, 1));
    await tf.setBackend('wasm');
    await filterGrad(c, x, dy, dyShape);
    const tensors = tf.memory().numTensors;
    const ids = tf.engine().backend.numDataIds();
    await filterGrad(c, x, dy, dyShape);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(ids);
  });
});

describe('gradients through conv layers on wasm equal cpu', () => {
  let previous: string | undefined;
  beforeAll(() => {
    previous = tf.getBackend();
    registerWasmConvKernels();
  });
  afterAll(async () => {
    // Backends are global state: leave the one we found (none before the first use).
    if (previous) await tf.setBackend(previous);
  });

  /** Runs f on both backends with the same data and compares every gradient. */
  async function compareGrads(data: Float32Array[], shapes: number[][], f: (...ts: tf.Tensor[]) => tf.Scalar): Promise<number[]> {
    const run = async (): Promise<Float32Array[]> => {
      const ts = data.map((d, i) => tf.tensor(d, shapes[i]));
      const grads = tf.grads(f)(ts);
      const out = await Promise.all(grads.map((g) => g.data() as Promise<Float32Array>));
      tf.dispose([...ts, ...grads]);
      return out;
    };
    const ref = await onBackend('cpu', run);
    const got = await onBackend('wasm', run);
    return ref.map((r, i) => relErr(got[i], r));
  }

  it('tf.grad of a small conv2d (stride 2, same; stride 1, valid)', async () => {
    const B = 4;
    const shapes = [[B, 12, 12, 3], [4, 4, 3, 8], [3, 3, 8, 5]];
    const data = shapes.map((s) => randn(s.reduce((p, d) => p * d, 1)));
    const f = (x: tf.Tensor, w1: tf.Tensor, w2: tf.Tensor): tf.Scalar => {
      const h = tf.leakyRelu(tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 2, 'same'), 0.2);
      const y = tf.conv2d(h, w2 as tf.Tensor4D, 1, 'valid');
      return tf.sum(tf.mul(y, y));
    };
    const errs = await compareGrads(data, shapes, f as (...ts: tf.Tensor[]) => tf.Scalar);
    for (const e of errs) expect(e).toBeLessThan(1e-4);
  });

  it('tf.grad of a DCGAN generator, conv2dTranspose 7×7 → 14×14 → 28×28 (stride 2, same)', async () => {
    const B = 3;
    const shapes = [[B, 7, 7, 16], [5, 5, 8, 16], [5, 5, 1, 8]];
    const data = shapes.map((s) => randn(s.reduce((p, d) => p * d, 1)));
    const f = (z: tf.Tensor, w1: tf.Tensor, w2: tf.Tensor): tf.Scalar => {
      const h = tf.relu(tf.conv2dTranspose(z as tf.Tensor4D, w1 as tf.Tensor4D, [B, 14, 14, 8], 2, 'same'));
      const img = tf.tanh(tf.conv2dTranspose(h, w2 as tf.Tensor4D, [B, 28, 28, 1], 2, 'same'));
      return tf.mean(tf.square(tf.sub(img, 0.3)));
    };
    const errs = await compareGrads(data, shapes, f as (...ts: tf.Tensor[]) => tf.Scalar);
    expect(errs).toHaveLength(3);
    for (const e of errs) expect(e).toBeLessThan(1e-4);
  });
});
