import '@tensorflow/tfjs-backend-wasm';
import { Rng } from '@duel/util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf';
import { relErr } from './kernel-fixtures';
import { registerWasmMatMulKernels } from './wasm-batch-matmul';

const rng = new Rng(11);
function randn(shape: number[]): { data: Float32Array; shape: number[] } {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  rng.fillNormal(data, 0, 1);
  return { data, shape };
}

/** Runs `f` on the cpu backend (the reference loop) and on wasm, on the same inputs. */
async function onBoth(f: () => tf.Tensor): Promise<{ cpu: Float32Array; wasm: Float32Array; shape: number[] }> {
  await tf.setBackend('cpu');
  const ref = f();
  const cpu = (await ref.data()) as Float32Array;
  ref.dispose();
  await tf.setBackend('wasm');
  const out = f();
  const wasm = (await out.data()) as Float32Array;
  const shape = out.shape;
  out.dispose();
  return { cpu, wasm, shape };
}

describe('wasm matmul with transposed operands (XNNPACK after an explicit transpose)', () => {
  beforeAll(async () => {
    expect(registerWasmMatMulKernels()).toBe(2);
    await tf.setBackend('wasm');
    await tf.ready();
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('registers once', () => {
    expect(registerWasmMatMulKernels()).toBe(0);
  });

  // [aShape, bShape, transposeA, transposeB]: the dense layer's backward products, a vector
  // case where Transpose is a reshape, and rank 3 with a broadcast batch.
  const cases: [number[], number[], boolean, boolean][] = [
    [[64, 32], [48, 32], false, true],
    [[64, 32], [64, 48], true, false],
    [[32, 64], [48, 32], true, true],
    [[64, 32], [32, 48], false, false],
    [[64, 1], [48, 1], false, true],
    [[64, 4], [64, 1], true, false],
    [[3, 16, 8], [1, 12, 8], false, true],
    [[2, 8, 16], [2, 8, 12], true, false],
  ];
  for (const [as, bs, ta, tb] of cases) {
    it(`[${as}]${ta ? 'ᵀ' : ''} · [${bs}]${tb ? 'ᵀ' : ''} matches the cpu kernel`, async () => {
      const a = randn(as);
      const b = randn(bs);
      const { cpu, wasm, shape } = await onBoth(() => tf.matMul(tf.tensor(a.data, a.shape), tf.tensor(b.data, b.shape), ta, tb));
      expect(wasm.length).toBe(cpu.length);
      expect(shape.at(-2)).toBe(ta ? as.at(-1) : as.at(-2));
      expect(relErr(wasm, cpu)).toBeLessThan(1e-5);
    });
  }

  it('fused matmul with a transposed operand, bias and relu matches the cpu kernel', async () => {
    const a = randn([32, 24]);
    const b = randn([16, 24]);
    const bias = randn([16]);
    const { cpu, wasm } = await onBoth(() =>
      tf.fused.matMul({ a: tf.tensor2d(a.data, [32, 24]), b: tf.tensor2d(b.data, [16, 24]), transposeB: true, bias: tf.tensor(bias.data), activation: 'relu' }),
    );
    expect(relErr(wasm, cpu)).toBeLessThan(1e-5);
  });

  it('gradients through a dense layer match the cpu backend, and leave no tensor or buffer behind', async () => {
    const x = randn([64, 16]);
    const w = randn([16, 8]);
    const grads = () =>
      tf.tidy(() => {
        const xt = tf.tensor(x.data, x.shape);
        const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.relu(tf.matMul(xx, ww))))([xt, tf.tensor(w.data, w.shape)]);
        return tf.concat([tf.reshape(g[0], [-1]), tf.reshape(g[1], [-1])]);
      });
    const { cpu, wasm } = await onBoth(grads);
    expect(relErr(wasm, cpu)).toBeLessThan(1e-5);

    grads().dispose();
    const before = { tensors: tf.memory().numTensors, buffers: tf.backend().numDataIds() };
    for (let i = 0; i < 5; i++) grads().dispose();
    expect({ tensors: tf.memory().numTensors, buffers: tf.backend().numDataIds() }).toEqual(before);
  });
});
