import { DuelError, ErrorCodes } from '@duel/util';
import { navigatorGpu, tf } from '@duel/gan';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NODE_AUTO_ORDER, selectNodeBackend } from './select-node-backend';
import { releaseNodeWebGpu } from './webgpu-registrar';

async function rejection(p: Promise<unknown>): Promise<DuelError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DuelError);
  return e as DuelError;
}

/** matMul and a conv filter gradient on the active backend, against hand-computed values. */
async function computesCorrectly(): Promise<void> {
  const [mm, dw] = tf.tidy(() => {
    const m = tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([1, -1, 2, 0.5], [2, 2]));
    // d/dw Σ conv2d(x, w) for x = ones[1,3,3,1], w [2,2,1,1] valid: each tap sees 4 ones.
    const g = tf.grad((w: tf.Tensor) => tf.sum(tf.conv2d(tf.ones([1, 3, 3, 1]) as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid')));
    return [m, g(tf.zeros([2, 2, 1, 1]))];
  });
  expect(Array.from(await mm.data())).toEqual([5, 0, 11, -1]);
  expect(Array.from(await dw.data())).toEqual([4, 4, 4, 4]);
  tf.dispose([mm, dw]);
}

describe('selectNodeBackend', () => {
  let previous: string | undefined;
  let tensors: number;
  beforeAll(() => {
    previous = tf.getBackend();
  });
  afterAll(async () => {
    releaseNodeWebGpu();
    if (previous) await tf.setBackend(previous);
  });
  afterEach(() => {
    // Selection checks leave no tensor behind.
    expect(tf.memory().numTensors).toBe(tensors);
  });
  beforeAll(() => {
    tensors = tf.memory().numTensors;
  });

  it('explicit cpu works and computes correctly', async () => {
    const sel = await selectNodeBackend('cpu');
    expect(sel).toMatchObject({ name: 'cpu', device: 'cpu (js)' });
    expect(tf.getBackend()).toBe('cpu');
    await computesCorrectly();
  });

  it('explicit wasm finds its binaries, registers the conv kernels and computes correctly', async () => {
    const sel = await selectNodeBackend('wasm');
    expect(sel.name).toBe('wasm');
    expect(sel.device).toMatch(/^wasm \((no )?simd, \d+ threads?\)$/);
    expect(tf.getBackend()).toBe('wasm');
    await computesCorrectly();
  });

  it('tensorflow is unavailable here: DUEL_ERR_BACKEND_UNAVAILABLE saying it is not installed', async () => {
    await selectNodeBackend('cpu');
    const e = await rejection(selectNodeBackend('tensorflow'));
    expect(e.code).toBe(ErrorCodes.BACKEND_UNAVAILABLE);
    expect(e.message).toMatch(/tfjs-node-gpu is not installed.*tfjs-node is not installed/);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('webgpu either works or fails cleanly (no adapter → DUEL_ERR_BACKEND_UNAVAILABLE, nothing left installed)', async () => {
    const got = await selectNodeBackend('webgpu', { adapterTimeoutMs: 20_000 }).then(
      (sel) => sel,
      (e: unknown) => e,
    );
    if (got instanceof DuelError) {
      expect(got.code).toBe(ErrorCodes.BACKEND_UNAVAILABLE);
      expect(got.message).toMatch(/webgpu/);
      expect(navigatorGpu()).toBeUndefined();
    } else {
      expect(got).toMatchObject({ name: 'webgpu' });
      await computesCorrectly();
    }
  });

  it('auto returns a backend that works, in Node order, with a reason', async () => {
    const sel = await selectNodeBackend('auto');
    expect(NODE_AUTO_ORDER).toContain(sel.name);
    expect(sel.tried.at(-1)).toEqual({ name: sel.name, ok: true });
    expect(sel.tried[0].name).toBe('tensorflow');
    expect(sel.reason).toMatch(new RegExp(`auto picked '${sel.name}'`));
    expect(sel.reason).toMatch(/tensorflow \(@tensorflow\/tfjs-node-gpu is not installed/);
    await computesCorrectly();
  });
});
