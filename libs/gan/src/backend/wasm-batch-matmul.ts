import { tf } from '../tf';
import { disposeInfos, runOriginal, runWasmKernel } from './wasm-kernel-utils';

/**
 * BatchMatMul and _FusedMatMul for the wasm backend with transposed operands.
 *
 * tfjs-backend-wasm 4.22 sends a matmul with transposeA or transposeB to a
 * scalar loop, and only the plain product to XNNPACK. A dense layer's
 * backward pass is exactly those two products (dx = dy·Wᵀ, dW = xᵀ·dy), so
 * training ran about 10× slower than inference: on a [256, 128]·[128, 128]
 * product, 3.1 ms transposed against 0.30 ms plain (2.6 against 28 GFLOP/s,
 * one thread, measured 2026-12-03). Here the transposed operand is first
 * transposed by the wasm Transpose kernel (0.02 ms at that size) and the
 * product runs on XNNPACK: 0.32–0.34 ms. The sums run in XNNPACK's order, so
 * results match the stock kernel to float rounding (≈ 1e-5 relative), not
 * bit for bit; the spec checks both kernels against the cpu backend.
 */

/** Marks our kernels so that registering twice is a no-op. */
const OURS = Symbol.for('duel.wasmPlainMatMul');
const originals = new Map<string, tf.KernelConfig>();

/** The rank-n permutation that swaps the last two axes. */
function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

function plainMatMul(kernelName: string) {
  return (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo => {
    const backend = args.backend as tf.KernelBackend;
    const original = originals.get(kernelName)!;
    const attrs = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (!attrs.transposeA && !attrs.transposeB) return runOriginal(original, args, backend);
    const made: tf.TensorInfo[] = [];
    const plain = (x: tf.TensorInfo, transposed: boolean | undefined): tf.TensorInfo => {
      if (!transposed) return x;
      const t = runWasmKernel('Transpose', { x }, { perm: swapLastTwo(x.shape.length) }, backend);
      made.push(t);
      return t;
    };
    try {
      return runOriginal(
        original,
        { inputs: { ...args.inputs, a: plain(a, attrs.transposeA), b: plain(b, attrs.transposeB) }, attrs: { ...args.attrs, transposeA: false, transposeB: false } },
        backend,
      );
    } finally {
      disposeInfos(backend, ...made);
    }
  };
}

/**
 * Puts the XNNPACK-only matmuls in place of the stock wasm BatchMatMul and
 * _FusedMatMul. Idempotent. Does nothing until @tensorflow/tfjs-backend-wasm
 * is loaded: its import would overwrite ours.
 * @returns how many kernels it replaced (0 when already done or wasm is absent).
 */
export function registerWasmMatMulKernels(): number {
  let replaced = 0;
  for (const kernelName of [tf.BatchMatMul, tf._FusedMatMul]) {
    const current = tf.getKernel(kernelName, 'wasm');
    if (!current || (current.kernelFunc as { [OURS]?: boolean })[OURS]) continue;
    originals.set(kernelName, current);
    tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: Object.assign(plainMatMul(kernelName), { [OURS]: true }) });
    replaced++;
  }
  return replaced;
}
