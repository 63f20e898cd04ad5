/**
 * Quick backend timings (not a test): matmul 256×512·512×512 and one conv2d
 * layer forward + backward (dx and dW), on each backend that works here; and
 * on wasm, the conv gradient kernels alone (tfjs's stock vs duel's).
 *
 *   node --import tsx tools/backends/bench-backends.ts [cpu,wasm,webgpu] [reps] [full]
 *
 * Times are medians of `reps` runs after two warm-ups (cpu convs: one run), each ending in a data
 * download so asynchronous backends (webgpu) are timed to completion.
 */
import '@tensorflow/tfjs-backend-wasm';
import { tf, type ConcreteBackendName } from '@duel/gan';
import { releaseNodeWebGpu, selectNodeBackend } from '@duel/gan-node';

interface Layer {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride: number;
}

/** DCGAN-style discriminator layers on MNIST (Radford et al. 2016): 5×5, stride 2, same. */
const LAYERS: Layer[] = [
  { name: 'conv 28²×1→64, b64', x: [64, 28, 28, 1], w: [5, 5, 1, 64], stride: 2 },
  { name: 'conv 14²×64→128, b64', x: [64, 14, 14, 64], w: [5, 5, 64, 128], stride: 2 },
];

async function median(reps: number, f: () => tf.Tensor[], warmups = 2): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < reps + warmups; i++) {
    const t0 = performance.now();
    const outs = f();
    await Promise.all(outs.map((o) => o.data()));
    const dt = performance.now() - t0;
    tf.dispose(outs);
    if (i >= warmups) times.push(dt);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function benchBackend(name: ConcreteBackendName, reps: number, full: boolean): Promise<Record<string, string>> {
  const sel = await selectNodeBackend(name).catch((e: Error) => e);
  if (sel instanceof Error) return { backend: name, device: `unavailable: ${sel.message}` };
  const row: Record<string, string> = { backend: name, device: sel.device };
  const a = tf.randomNormal([256, 512]);
  const b = tf.randomNormal([512, 512]);
  row['matmul 256×512×512'] = (await median(reps, () => [tf.matMul(a, b)])).toFixed(2);
  tf.dispose([a, b]);
  for (const l of LAYERS) {
    // The cpu backend's filter gradient is a scalar loop: ~24 s for the small
    // layer and ~5 min for the large one here, so one run, and the large layer only with 'full'.
    const slow = name === 'cpu';
    if (slow && l.w[2] > 1 && !full) {
      row[`${l.name} fwd+bwd`] = 'skipped (add "full")';
      continue;
    }
    const x = tf.randomNormal(l.x) as tf.Tensor4D;
    const w = tf.mul(tf.randomNormal(l.w), 0.05) as tf.Tensor4D;
    const fb = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, l.stride, 'same')));
    row[`${l.name} fwd+bwd`] = (await median(slow ? 1 : reps, () => fb([x, w]), slow ? 1 : 2)).toFixed(1);
    tf.dispose([x, w]);
  }
  return row;
}

/** tfjs-backend-wasm's own Conv2DBackpropInput, captured before duel swaps in the sub-pixel one. */
const stockInput = tf.getKernel('Conv2DBackpropInput', 'wasm')!;

/** The wasm conv gradient kernels alone on the larger layer: stock vs duel's. */
async function benchWasmKernels(reps: number): Promise<Record<string, string>> {
  await selectNodeBackend('wasm');
  const l = LAYERS[1];
  const x = tf.randomNormal(l.x) as tf.Tensor4D;
  const w = tf.randomNormal(l.w) as tf.Tensor4D;
  const dyShape = tf.backend_util.computeConv2DInfo(l.x, l.w, l.stride, 1, 'same').outShape;
  const dy = tf.randomNormal(dyShape) as tf.Tensor4D;
  const attrs = { strides: [l.stride, l.stride], pad: 'same', dataFormat: 'NHWC' };
  const filterGrad = () => [tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: l.w }) as tf.Tensor];
  const inputGrad = () => [tf.conv2dTranspose(dy, w, l.x, l.stride, 'same')];
  const row: Record<string, string> = { backend: 'wasm kernels', device: l.name };
  row['Conv2D fwd'] = (await median(reps, () => [tf.conv2d(x, w, l.stride, 'same')])).toFixed(1);
  row['Conv2DBackpropFilter (duel)'] = (await median(reps, filterGrad)).toFixed(1);
  row['Conv2DBackpropInput (duel sub-pixel)'] = (await median(reps, inputGrad)).toFixed(1);
  const ours = tf.getKernel('Conv2DBackpropInput', 'wasm')!;
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel(stockInput);
  stockInput.setupFunc?.(tf.backend()); // it missed the backend's setup while unregistered
  row['Conv2DBackpropInput (stock)'] = (await median(1, inputGrad, 1)).toFixed(1);
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel(ours);
  tf.dispose([x, w, dy]);
  return row;
}

async function main(): Promise<void> {
  const names = (process.argv[2] ?? 'cpu,wasm,webgpu').split(',') as ConcreteBackendName[];
  const reps = Number(process.argv[3] ?? 5);
  const full = process.argv[4] === 'full';
  const rows: Record<string, string>[] = [];
  for (const n of names) {
    rows.push(await benchBackend(n, reps, full));
    console.log(JSON.stringify(rows.at(-1)));
  }
  if (names.includes('wasm')) {
    rows.push(await benchWasmKernels(reps));
    console.log(JSON.stringify(rows.at(-1)));
  }
  console.table(rows);
  releaseNodeWebGpu();
}

void main();
