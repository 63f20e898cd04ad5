import { tf, GanModel, mlp2dSpec, initWeights, discriminatorGradients, generatorGradients } from '@duel/gan';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { Rng, cloneWeights, type NamedWeights } from '@duel/util';
import * as path from 'path';
type Adam = { m: Float32Array[]; v: Float32Array[]; t: number };
function adam(ws: NamedWeights, gs: NamedWeights, st: Adam, lr: number, b1 = 0.5, b2 = 0.999, eps = 1e-7) {
  st.t++;
  const c1 = 1 - Math.pow(b1, st.t), c2 = 1 - Math.pow(b2, st.t);
  ws.forEach((w, i) => { const g = gs[i].data, m = st.m[i], v = st.v[i], d = w.data;
    for (let j = 0; j < d.length; j++) { m[j] = b1 * m[j] + (1 - b1) * g[j]; v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j]; d[j] -= lr * (m[j] / c1) / (Math.sqrt(v[j] / c2) + eps); } });
}
function mk(ws: NamedWeights): Adam { return { m: ws.map(w => new Float32Array(w.data.length)), v: ws.map(w => new Float32Array(w.data.length)), t: 0 }; }
function centres(ds: string) { if (ds === 'ring8') return { c: Array.from({ length: 8 }, (_, k) => [Math.cos(2 * Math.PI * k / 8), Math.sin(2 * Math.PI * k / 8)]), s: 0.01 };
  const c: number[][] = []; for (const x of [-4, -2, 0, 2, 4]) for (const y of [-4, -2, 0, 2, 4]) c.push([x, y]); return { c, s: 0.05 }; }
function quality(pts: Float32Array, C: number[][], s: number) { const n = pts.length / 2; const hqc = new Array(C.length).fill(0); let hq = 0;
  for (let i = 0; i < n; i++) { let best = 1e9, bj = 0; C.forEach((c, j) => { const d = Math.hypot(pts[2 * i] - c[0], pts[2 * i + 1] - c[1]); if (d < best) { best = d; bj = j; } }); if (best <= 3 * s) { hq++; hqc[bj]++; } }
  const hist = [0, 0, 0, 0]; for (let i = 0; i < n; i++) { let best = 1e9; C.forEach(c => { best = Math.min(best, Math.hypot(pts[2 * i] - c[0], pts[2 * i + 1] - c[1])); }); hist[best <= 3 * s ? 0 : best <= 6 * s ? 1 : best <= 20 * s ? 2 : 3]++; }
  return { modes: hqc.filter(x => x > 0).length, bal: hqc.filter(x => x >= 0.25 * n / C.length).length, hq: hq / n, h: hist.map(x => x / n) }; }
async function main() {
  const a = Object.fromEntries(process.argv.slice(2).map(s => s.split('='))) as Record<string, string>;
  setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
  await tf.setBackend('wasm');
  const ds = a.ds ?? 'ring8', steps = +(a.steps ?? 2000), B = +(a.b ?? 256), hidden = +(a.h ?? 128), pack = +(a.pack ?? 2), k = +(a.k ?? 1);
  const lrD = +(a.lrd ?? 1e-3), lrG = +(a.lrg ?? 1e-3), ema = +(a.ema ?? 0), seed = +(a.seed ?? 1), mbstd = a.mbstd === '1';
  const decay = a.decay === '1';
  const spec = mlp2dSpec({ hidden, pack, minibatchStd: mbstd, latentDim: +(a.z ?? 2), dataScale: +(a.scale ?? 1) });
  const m = new GanModel(spec);
  const G = initWeights(m.layout.G, seed * 7 + 1), D = initWeights(m.layout.D, seed * 7 + 2);
  const aG = mk(G), aD = mk(D); let E = cloneWeights(G);
  const { c: C, s: S } = centres(ds); const rng = new Rng(seed * 7 + 3);
  const t0 = Date.now();
  for (let step = 1; step <= steps; step++) {
    const f = decay ? Math.max(0.1, 1 - step / steps) : 1;
    m.setWeights('G', G);
    for (let i = 0; i < k; i++) {
      m.setWeights('D', D);
      const real = new Float32Array(B * 2);
      for (let j = 0; j < B; j++) { const c = C[rng.int(C.length)]; real[2 * j] = c[0] + S * rng.normal(); real[2 * j + 1] = c[1] + S * rng.normal(); }
      const r = await discriminatorGradients(m, real, rng.nextUint32()); adam(D, r.grads, aD, lrD * f);
    }
    m.setWeights('D', D);
    const g = await generatorGradients(m, B, rng.nextUint32()); adam(G, g.grads, aG, lrG * f);
    if (ema > 0) E.forEach((e, i) => { const gd = G[i].data; for (let j = 0; j < gd.length; j++) e.data[j] = ema * e.data[j] + (1 - ema) * gd[j]; });
    if (step % (+(a.every ?? 500)) === 0 || step === steps) {
      m.setWeights('G', G); const q = quality(await m.sample(2500, 99), C, S);
      let qe = null; if (ema > 0) { m.setWeights('G', E); qe = quality(await m.sample(2500, 99), C, S); }
      console.log(step, ((Date.now() - t0) / 1000).toFixed(0) + 's', JSON.stringify(q), 'ema', JSON.stringify(qe));
    }
  }
}
main();
