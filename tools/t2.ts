import { tf, GanModel, mlp2dSpec, initWeights, discriminatorGradients, generatorGradients } from '@duel/gan';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { Rng } from '@duel/util';
import * as path from 'path';
async function main() {
setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
await tf.setBackend(process.argv[2] ?? 'wasm');
const hidden = Number(process.argv[3] ?? 128); const B = Number(process.argv[4] ?? 256);
const spec = mlp2dSpec({hidden});
const m = new GanModel(spec);
m.setWeights('G', initWeights(m.layout.G, 1));
m.setWeights('D', initWeights(m.layout.D, 2));
const rng = new Rng(3);
const real = rng.fillNormal(new Float32Array(B*2));
for (let i=0;i<20;i++){
  const t0 = performance.now();
  const d = await discriminatorGradients(m, real, 5);
  const g = await generatorGradients(m, B, 6);
  if (i%5==4) console.log(tf.getBackend(), hidden, B, (performance.now()-t0).toFixed(1),'ms', d.stats.loss, g.stats.loss, tf.memory().numTensors);
}
}
main();
