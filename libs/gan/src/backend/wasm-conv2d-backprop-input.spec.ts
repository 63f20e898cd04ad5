import '@tensorflow/tfjs-backend-wasm';
import { Rng } from '@duel/util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf';
import { relErr } from './kernel-fixtures';
import { planPhaseAxis, registerWasmConv2DBackpropInput } from './wasm-conv2d-backprop-input';

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

const rng = new Rng(7);
function randn(n: number): Float32Array {
  const a = new Float32Array(n);
  rng.fillNormal(a, 0, 1);
  return a;
}
function xShape(c: Case): [number, number, number, number] {
  return c.nchw ? [c.b, c.ci, c.h, c.w] : [c.b, c.h, c.w, c.ci];
}
function dyShape(c: Case): number[] {
  return tf.backend_util.computeConv2DInfo(xShape(c), [c.k, c.k, c.ci, c.co], c.s, 1, c.pad, undefined, false, c.nchw ? 'channelsFirst' : 'channelsLast')
    .outShape;
}

async function inputGrad(c: Case, dy: Float32Array, w: Float32Array): Promise<Float32Array> {
  const dyt = tf.tensor(dy, dyShape(c));
  const wt = tf.tensor4d(w, [c.k, c.k, c.ci, c.co]);
  const dx = tf.engine().runKernel(
    'Conv2DBackpropInput',
    { dy: dyt, filter: wt },
    { strides: [c.s, c.s], pad: c.pad, dataFormat: c.nchw ? 'NCHW' : 'NHWC', inputShape: xShape(c) } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
  const out = (await dx.data()) as Float32Array;
  tf.dispose([dyt, wt, dx]);
  return out;
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
cases.push({ b: 2, h: 9, w: 10, ci: 3, co: 4, k: 3, s: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] });
cases.push({ b: 3, h: 13, w: 11, ci: 2, co: 3, k: 4, s: 3, pad: 'same' });
cases.push({ b: 2, h: 9, w: 9, ci: 2, co: 3, k: 1, s: 2, pad: 'valid' }); // k < s: phases with no taps
cases.push({ b: 2, h: 8, w: 8, ci: 3, co: 2, k: 3, s: 2, pad: 'same', nchw: true }); // stock kernel
cases.push({ b: 4, h: 14, w: 14, ci: 16, co: 8, k: 5, s: 2, pad: 'same' }); // DCGAN 7 → 14

describe('wasm Conv2DBackpropInput (sub-pixel)', () => {
  let previous: string | undefined;
  beforeAll(() => {
    previous = tf.getBackend();
    registerWasmConv2DBackpropInput();
  });
  afterAll(async () => {
    if (previous) await tf.setBackend(previous);
  });

  it('plans phases: same, k 5, s 2, pad 1 (7 → 14)', () => {
    // Phase 0: q = 1, taps kh ∈ {1, 3}; phase 1: q = 2, taps {0, 2, 4}.
    expect(planPhaseAxis(0, 2, 1, 5, 7, 7)).toMatchObject({ taps: 2, firstReversedTap: 1, padBefore: 1, padAfter: 0 });
    expect(planPhaseAxis(1, 2, 1, 5, 7, 7)).toMatchObject({ taps: 3, firstReversedTap: 0, padBefore: 1, padAfter: 1 });
    // k < s: phase 1 meets no tap.
    expect(planPhaseAxis(1, 2, 0, 1, 5, 4).taps).toBe(0);
  });

  it('registering twice keeps one kernel', () => {
    const k = tf.getKernel('Conv2DBackpropInput', 'wasm');
    registerWasmConv2DBackpropInput();
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).toBe(k);
  });

  it.each(cases.map((c) => [JSON.stringify(c), c] as const))('matches the cpu kernel: %s', async (_, c) => {
    const dy = randn(dyShape(c).reduce((p, d) => p * d, 1));
    const w = randn(c.k * c.k * c.ci * c.co);
    expect(await tf.setBackend('cpu')).toBe(true);
    const ref = await inputGrad(c, dy, w);
    expect(await tf.setBackend('wasm')).toBe(true);
    const got = await inputGrad(c, dy, w);
    expect(relErr(got, ref)).toBeLessThan(1e-4);
  });

  it('frees every intermediate', async () => {
    const c = cases[cases.length - 1];
    const dy = randn(dyShape(c).reduce((p, d) => p * d, 1));
    const w = randn(c.k * c.k * c.ci * c.co);
    await tf.setBackend('wasm');
    await inputGrad(c, dy, w);
    const tensors = tf.memory().numTensors;
    const ids = tf.engine().backend.numDataIds();
    await inputGrad(c, dy, w);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(ids);
  });
});
