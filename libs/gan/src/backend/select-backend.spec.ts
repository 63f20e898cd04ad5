import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { DuelError, ErrorCodes } from '@duel/util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf';
import { kernelCoverage } from './kernel-coverage';
import { selectBackend } from './select-backend';
import { verifyBackend } from './verify-backend';
import { registerWasmConvKernels } from './wasm-conv2d-backprop-filter';

async function rejection(p: Promise<unknown>): Promise<DuelError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DuelError);
  return e as DuelError;
}

/** A fake 'webgl' backend: the cpu kernels, but matMul computes B·A. */
function registerWrongWebGl(): () => void {
  const cpuMatMul = tf.getKernel('BatchMatMul', 'cpu')!;
  const names: string[] = [];
  for (const k of tf.getKernelsForBackend('cpu')) {
    const kernelFunc: tf.KernelFunc =
      k.kernelName === 'BatchMatMul' ? (args) => cpuMatMul.kernelFunc({ ...args, inputs: { a: args.inputs['b'], b: args.inputs['a'] } }) : k.kernelFunc;
    tf.registerKernel({ ...k, backendName: 'webgl', kernelFunc });
    names.push(k.kernelName);
  }
  tf.registerBackend('webgl', () => new MathBackendCPU());
  return () => {
    for (const n of names) tf.unregisterKernel(n, 'webgl');
    tf.removeBackend('webgl');
  };
}

describe('selectBackend (browser registrars, run in Node)', () => {
  let previous: string | undefined;
  beforeAll(() => {
    previous = tf.getBackend();
  });
  afterAll(async () => {
    if (previous) await tf.setBackend(previous);
  });
  afterEach(() => {
    // Nothing a selection check made may stay alive.
    expect(tf.memory().numTensors).toBe(0);
  });

  it('explicit cpu works and says so', async () => {
    const sel = await selectBackend('cpu');
    expect(sel).toMatchObject({ name: 'cpu', device: 'cpu (js)', tried: [{ name: 'cpu', ok: true }] });
    expect(sel.reason).toMatch(/explicitly/);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('explicit webgpu without navigator.gpu throws BACKEND_UNAVAILABLE with the reason, and restores the backend', async () => {
    await selectBackend('cpu');
    const e = await rejection(selectBackend('webgpu'));
    expect(e.code).toBe(ErrorCodes.BACKEND_UNAVAILABLE);
    expect(e.message).toMatch(/navigator\.gpu is missing/);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('explicit webgl says the package is not installed', async () => {
    const e = await rejection(selectBackend('webgl'));
    expect(e.code).toBe(ErrorCodes.BACKEND_UNAVAILABLE);
    expect(e.message).toMatch(/tfjs-backend-webgl is not installed/);
  });

  it('auto skips webgpu and webgl here, picks wasm, and explains', async () => {
    const sel = await selectBackend('auto');
    expect(sel.name).toBe('wasm');
    expect(sel.device).toMatch(/^wasm \((no )?simd, \d+ threads?\)$/);
    expect(sel.tried.map((t) => [t.name, t.ok])).toEqual([
      ['webgpu', false],
      ['webgl', false],
      ['wasm', true],
    ]);
    expect(sel.reason).toMatch(/auto picked 'wasm'.*skipped webgpu \(navigator\.gpu is missing.*webgl/);
    // The wasm registrar also makes conv nets trainable there.
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it('auto rejects a backend that computes wrong numbers', async () => {
    const cleanup = registerWrongWebGl();
    try {
      const sel = await selectBackend('auto', { order: ['webgl', 'cpu'] });
      expect(sel.name).toBe('cpu');
      expect(sel.tried[0]).toMatchObject({ name: 'webgl', ok: false });
      expect(sel.tried[0].error).toMatch(/wrong numbers/);
    } finally {
      cleanup();
    }
  });

  it('a hung initialisation times out into a clean fallback', async () => {
    const sel = await selectBackend('auto', {
      order: ['webgpu', 'cpu'],
      timeoutMs: 200,
      registrars: {
        webgpu: async () => tf.registerBackend('webgpu', () => new Promise<never>(() => undefined)),
      },
    });
    expect(sel.name).toBe('cpu');
    expect(sel.tried[0].error).toMatch(/timed out after 200 ms/);
    expect(tf.findBackendFactory('webgpu')).toBeNull();
    // The engine is not left waiting for the hung init.
    const t = tf.add(1, 2);
    expect(await t.data()).toEqual(new Float32Array([3]));
    t.dispose();
  });

  it('rejects an unknown name with BAD_ARGUMENT', async () => {
    const e = await rejection(selectBackend('tpu' as 'cpu'));
    expect(e.code).toBe(ErrorCodes.BAD_ARGUMENT);
  });

  it('verifyBackend passes on cpu', async () => {
    await selectBackend('cpu');
    await expect(verifyBackend()).resolves.toBeUndefined();
  });
});

describe('kernelCoverage', () => {
  it('cpu has every kernel and gradient duel GANs need; wasm does once duel registers its kernels', async () => {
    expect(kernelCoverage('cpu')).toEqual({ missing: [], missingGradients: [] });
    await import('@tensorflow/tfjs-backend-wasm');
    registerWasmConvKernels();
    expect(kernelCoverage('wasm')).toEqual({ missing: [], missingGradients: [] });
  });

  it('reports what a backend lacks', () => {
    expect(kernelCoverage('no-such-backend').missing).toContain('Conv2D');
  });
});
