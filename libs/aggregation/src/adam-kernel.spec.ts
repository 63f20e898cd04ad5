import { describe, expect, it } from 'vitest';
import { Rng, cloneWeights, zerosLike, type NamedWeights } from '@duel/util';
import { adamKernelName, adamTensorJs, adamTensorWasm, createAdamMoments, type AdamScalars } from './adam-kernel';
import { adamStep, adoptWeights, createAdamState, type AdamHyperparams } from './adam';

const f = Math.fround;

/** The scalars adamStep derives for step t (1-based), with the same float32 running products. */
function scalars(hp: Required<AdamHyperparams>, t: number): AdamScalars {
  let acc1 = 1;
  let acc2 = 1;
  for (let i = 0; i < t; i++) {
    acc1 = f(acc1 * f(hp.beta1));
    acc2 = f(acc2 * f(hp.beta2));
  }
  return {
    b1: f(hp.beta1),
    b2: f(hp.beta2),
    omb1: f(1 - hp.beta1),
    omb2: f(1 - hp.beta2),
    corr1: f(1 - acc1),
    corr2: f(1 - acc2),
    eps: f(hp.epsilon),
    negLr: f(-hp.lr),
  };
}

/** A float32 with random sign, exponent and mantissa bits (finite: every binade, denormals and ±0 included). */
function anyFinite(rng: Rng): number {
  const bits = new Uint32Array(1);
  const x = new Float32Array(bits.buffer);
  do bits[0] = rng.nextUint32();
  while (!Number.isFinite(x[0]));
  return x[0];
}

const EDGES = [0, -0, 1.4e-45, -1.4e-45, 1.1754942e-38, 1.17549435e-38, 5.9e-39, 1e-30, 1e-20, 1e-7, 1, -1, 1e20, 1e30, 3.4028235e38, -3.4028235e38];

/** Values from every regime: normal magnitudes, tiny ones near ε, denormals, huge ones that overflow g², exact edge values. */
function values(rng: Rng, n: number, kind: 'grad' | 'weight' | 'moment'): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng.uniform();
    if (r < 0.35) a[i] = rng.normal() * (kind === 'grad' ? 1e-3 : 0.1);
    else if (r < 0.5) a[i] = anyFinite(rng);
    else if (r < 0.6) a[i] = EDGES[rng.int(EDGES.length)];
    else if (r < 0.7) a[i] = rng.normal() * 1e-40; // denormal
    else if (r < 0.8) a[i] = rng.normal() * 1e-6;
    else a[i] = rng.normal() * (kind === 'moment' ? 1e-8 : 1);
    if (kind === 'moment' && rng.uniform() < 0.5) a[i] = Math.abs(a[i]); // v ≥ 0 in practice; the rest checks the sign path
  }
  return a;
}

/** Bitwise equality of two float32 arrays; a NaN must be a NaN on both sides (its payload is left to the engine). */
function expectSameBits(a: Float32Array, b: Float32Array, what: string): void {
  expect(a.length).toBe(b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let diffs = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    const same = ua[i] === ub[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i]));
    if (!same) {
      diffs++;
      if (first < 0) first = i;
    }
  }
  expect(diffs, `${what}: ${diffs} values differ, first at ${first}: ${a[first]} vs ${b[first]}`).toBe(0);
}

const HPS: Required<AdamHyperparams>[] = [
  { lr: 2e-4, beta1: 0.5, beta2: 0.999, epsilon: 1e-7 },
  { lr: 0.05, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
  { lr: 1e-3, beta1: 0, beta2: 0.5, epsilon: 1e-3 },
  { lr: 3.7, beta1: 0.99, beta2: 0.9999, epsilon: 1e-30 },
];

describe('Adam kernel: WebAssembly SIMD vs the JS loop', () => {
  it('runs the wasm kernel in this Node', () => {
    expect(adamKernelName()).toBe('wasm-simd');
  });

  // Lengths around the kernel's 4 lanes and its 8192-value chunks.
  const lengths = [1, 3, 4, 5, 17, 8191, 8192, 8193, 2 * 8192 + 7];
  it.each(HPS.map((hp, i) => [i, hp] as const))('agrees bit for bit on random and edge-case values (hyperparameters %i)', (i, hp) => {
    const rng = new Rng(101 + i);
    for (const n of lengths) {
      for (const t of [1, 2, 10, 1000]) {
        const w = values(rng, n, 'weight');
        const g = values(rng, n, 'grad');
        const m = values(rng, n, 'moment');
        const v = values(rng, n, 'moment');
        const [w2, m2, v2] = [w.slice(), m.slice(), v.slice()];
        const g2 = g.slice();
        const s = scalars(hp, t);
        adamTensorJs(w, g, m, v, s);
        expect(adamTensorWasm(w2, g2, m2, v2, s)).toBe(true);
        expectSameBits(w2, w, `w (n ${n}, t ${t})`);
        expectSameBits(m2, m, `m (n ${n}, t ${t})`);
        expectSameBits(v2, v, `v (n ${n}, t ${t})`);
        expectSameBits(g2, g, 'g is not modified');
      }
    }
  });

  it('agrees on non-finite inputs too (NaN as NaN; the strategies keep them out in production)', () => {
    const special = [NaN, Infinity, -Infinity, 0, -0, 1, 1.4e-45, 3.4028235e38];
    const n = special.length ** 2;
    const w = new Float32Array(n);
    const g = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      w[i] = special[i % special.length];
      g[i] = special[Math.floor(i / special.length)];
    }
    const m = g.map((x) => x * 0.5);
    const v = g.map((x) => x * x);
    const [w2, m2, v2] = [w.slice(), m.slice(), v.slice()];
    const s = scalars(HPS[0], 3);
    adamTensorJs(w, g, m, v, s);
    adamTensorWasm(w2, g, m2, v2, s);
    expectSameBits(w2, w, 'w');
    expectSameBits(m2, m, 'm');
    expectSameBits(v2, v, 'v');
  });

  // createAdamState puts m and v in the kernel's memory, and adoptWeights the weights beside them; a state of plain
  // arrays (e.g. built by hand) goes through its chunk buffers, and so do weights that were not adopted.
  it.each(['resident weights and moments', 'resident moments', 'plain-array moments'] as const)('adamStep over many steps equals the JS loop, bit for bit (weights and moments; %s)', (kind) => {
    const specs = [
      { name: 'a', shape: [37, 29] },
      { name: 'b', shape: [8195] },
      { name: 'c', shape: [1] },
    ];
    const rng = new Rng(7);
    const init: NamedWeights = zerosLike(specs);
    for (const t of init) rng.fillNormal(t.data, 0, 0.3);
    const ref = cloneWeights(init);
    const fresh = createAdamState(specs);
    const state = kind === 'plain-array moments' ? { ...fresh, m: cloneWeights(fresh.m), v: cloneWeights(fresh.v) } : fresh;
    const w = kind === 'resident weights and moments' ? adoptWeights(state, init) : init;
    if (kind === 'resident weights and moments') expect(w).not.toBe(init);
    const refState = { ...createAdamState(specs), m: zerosLike(specs), v: zerosLike(specs) };
    const hp = HPS[0];
    for (let step = 1; step <= 60; step++) {
      const g: NamedWeights = zerosLike(specs);
      for (const t of g) t.data.set(values(rng, t.data.length, 'grad'));
      adamStep(w, g, state, hp);
      const s = scalars(hp, step);
      for (let k = 0; k < specs.length; k++) adamTensorJs(ref[k].data, g[k].data, refState.m[k].data, refState.v[k].data, s);
    }
    for (let k = 0; k < specs.length; k++) {
      expectSameBits(w[k].data, ref[k].data, `w ${specs[k].name}`);
      expectSameBits(state.m[k].data, refState.m[k].data, `m ${specs[k].name}`);
      expectSameBits(state.v[k].data, refState.v[k].data, `v ${specs[k].name}`);
    }
  });

  it('resident moments and weight buffers are zero, 16-aligned, disjoint and ordinary Float32Arrays', () => {
    const specs = [
      { name: 'a', shape: [3] },
      { name: 'b', shape: [2, 3] },
      { name: 'c', shape: [0] },
    ];
    const mv = createAdamMoments(specs)!;
    const all = [...mv.m, ...mv.v, ...mv.w];
    expect(all.map((t) => t.data.length)).toEqual([3, 6, 0, 3, 6, 0, 3, 6, 0]);
    for (const t of all) {
      expect(t.data.byteOffset % 16).toBe(0);
      expect(Array.from(t.data).every((x) => x === 0)).toBe(true);
    }
    all.forEach((t, i) => t.data.fill(i + 1));
    all.forEach((t, i) => expect(Array.from(t.data).every((x) => x === i + 1)).toBe(true));
    expect(mv.m[1]).toEqual({ name: 'b', shape: [2, 3], data: new Float32Array(6).fill(2) });
  });
});
