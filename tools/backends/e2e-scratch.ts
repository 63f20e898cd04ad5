import '@tensorflow/tfjs-backend-wasm';
import { tf, dcganSpec, GanModel, initWeights, discriminatorGradients, generatorGradients } from '@duel/gan';
import { selectNodeBackend } from '@duel/gan-node';
import { Rng } from '@duel/util';
const stock = tf.getKernel('Conv2DBackpropInput', 'wasm')!;
async function run(backend: string, B: number, useStock = false) {
  await selectNodeBackend(backend as 'cpu');
  if (useStock) { tf.unregisterKernel('Conv2DBackpropInput', 'wasm'); tf.registerKernel(stock); stock.setupFunc?.(tf.backend()); }
  const spec = dcganSpec();
  const m = new GanModel(spec);
  m.setWeights('G', initWeights(m.layout.G, 1));
  m.setWeights('D', initWeights(m.layout.D, 2));
  const real = new Float32Array(B * 784); new Rng(3).fillNormal(real, 0, 0.5);
  const t0 = performance.now();
  const d = await discriminatorGradients(m, real, 11);
  const t1 = performance.now();
  const g = await generatorGradients(m, B, 12);
  const t2 = performance.now();
  m.dispose();
  return { d, g, dMs: t1 - t0, gMs: t2 - t1 };
}
function maxRel(a: { data: Float32Array }[], b: { data: Float32Array }[]) {
  let worst = 0;
  a.forEach((t, i) => { let e = 0, mag = 1e-6; for (let j = 0; j < t.data.length; j++) { e = Math.max(e, Math.abs(t.data[j] - b[i].data[j])); mag = Math.max(mag, Math.abs(b[i].data[j])); } worst = Math.max(worst, e / mag); });
  return worst;
}
async function main() {
  const B = Number(process.argv[2] ?? 16);
  const c = await run('cpu', B);
  const w = await run('wasm', B);
  console.log(`B=${B} cpu D ${c.dMs.toFixed(0)} ms G ${c.gMs.toFixed(0)} ms | wasm(duel) D ${w.dMs.toFixed(0)} ms G ${w.gMs.toFixed(0)} ms`);
  console.log('max rel err D grads', maxRel(w.d.grads, c.d.grads).toExponential(2), 'G grads', maxRel(w.g.grads, c.g.grads).toExponential(2), 'loss', c.d.stats.loss, w.d.stats.loss);
  const w2 = await run('wasm', B); // warm
  console.log(`wasm(duel, warm) D ${w2.dMs.toFixed(0)} G ${w2.gMs.toFixed(0)}`);
  const s = await run('wasm', B, true);
  console.log(`wasm(stock Conv2DBackpropInput) D ${s.dMs.toFixed(0)} G ${s.gMs.toFixed(0)}`);
}
void main();
