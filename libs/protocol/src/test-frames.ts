import { ErrorCodes, Rng, zerosLike, type NamedWeights, type TensorSpec } from '@duel/util';
import { packHeader } from './codec';
import type { Frame } from './frames';
import { PROTOCOL_VERSION } from './frames';
import type { Layout } from './validate';

/** A tiny two-net layout for specs: shapes chosen so tensors have odd byte lengths to pad. */
export const TEST_LAYOUT: Layout = {
  G: [
    { name: 'G/dense0/kernel', shape: [2, 3] },
    { name: 'G/dense0/bias', shape: [3] },
    { name: 'G/out/kernel', shape: [3, 2] },
  ],
  D: [
    { name: 'D/dense0/kernel', shape: [2, 5] },
    { name: 'D/dense0/bias', shape: [5] },
  ],
};

export function randomWeights(specs: readonly TensorSpec[], rng: Rng): NamedWeights {
  const ws = zerosLike(specs);
  for (const w of ws) rng.fillNormal(w.data, 0, 0.5);
  return ws;
}

/** One frame of every type, optional fields filled; tensors follow TEST_LAYOUT. */
export function sampleFrames(seed = 1): Frame[] {
  const rng = new Rng(seed);
  return [
    {
      t: 'hello',
      protocol: PROTOCOL_VERSION,
      kind: 'volunteer',
      token: 's3cret',
      capabilities: { backend: 'wasm', device: 'Chrome / 8 threads', maxBatch: 256, codecs: ['raw-f32', 'q8'] },
      resume: { workerId: 'w-7', token: 'Vb1bYI3cW2K6nqHk0VfX9sQnKpZr5dLhYtA_x-Ju8mE' },
    },
    { t: 'hello', protocol: PROTOCOL_VERSION, kind: 'node', capabilities: { backend: 'webgpu', device: '', maxBatch: 1024 } },
    {
      t: 'welcome',
      workerId: 'w-7',
      run: {
        id: 'run-2026-11-01',
        dataset: 'ring8',
        seed: 0xffffffff,
        model: { kind: 'mlp', latent: 64, hidden: [128, 128], act: 'relu', dropout: null, ok: true, lr: 1e-4 },
        loss: 'nonsaturating',
        k: 1,
        batchSize: 64,
        mode: 'async',
        staleness: 2,
      },
      heartbeatMs: 5000,
      versions: { g: 12, d: 13 },
      resumeToken: 'Vb1bYI3cW2K6nqHk0VfX9sQnKpZr5dLhYtA_x-Ju8mE',
    },
    { t: 'weights', net: 'G', version: 12, tensors: randomWeights(TEST_LAYOUT.G, rng) },
    { t: 'weights', net: 'D', version: 13, tensors: randomWeights(TEST_LAYOUT.D, rng) },
    {
      t: 'task',
      taskId: 't-42',
      phase: 'D',
      versions: { g: 12, d: 13 },
      step: 7,
      sub: 0,
      shard: { index: 1, count: 4 },
      batchSize: 64,
      seed: 123456789,
      deadlineMs: 30000,
    },
    {
      t: 'result',
      taskId: 't-42',
      workerId: 'w-7',
      phase: 'D',
      versions: { g: 12, d: 13 },
      grads: randomWeights(TEST_LAYOUT.D, rng),
      stats: { loss: 1.3862, dReal: 0.51, dFake: 0.49, samples: 64, computeMs: 12.5 },
    },
    {
      t: 'result',
      taskId: 't-43',
      workerId: 'w-7',
      phase: 'G',
      versions: { g: 12, d: 14 },
      grads: randomWeights(TEST_LAYOUT.G, rng),
      stats: { loss: -0.7, dReal: 0, dFake: 0.3, samples: 64, computeMs: 3 },
    },
    { t: 'ack', taskId: 't-42', status: 'applied' },
    { t: 'ack', taskId: 't-41', status: 'rejected', code: ErrorCodes.STALE_VERSION },
    { t: 'error', code: ErrorCodes.RATE_LIMITED, message: 'slow down', fatal: true, retryAfterMs: 2000 },
    { t: 'error', code: ErrorCodes.UNKNOWN_TASK, message: '' },
    { t: 'ping', ts: 1_790_000_000_123.5 },
    { t: 'pong', ts: 1_790_000_000_200, echo: 1_790_000_000_123.5 },
    { t: 'bye', reason: 'SIGTERM' },
    { t: 'wait', reason: 'shutting_down', retryAfterMs: 1500, reconnect: true },
  ];
}

/**
 * Builds a frame envelope around any header value (msgpack-packed as is), for
 * tests that need frames encodeFrame would never write.
 */
export function encodeRaw(header: unknown, opts: { section?: Uint8Array; flags?: number; version?: number } = {}): Uint8Array {
  const h = packHeader(header as object);
  const start = opts.section ? Math.ceil((8 + h.length) / 8) * 8 : 8 + h.length;
  const out = new Uint8Array(start + (opts.section?.length ?? 0));
  out.set([0x44, 0x55, opts.version ?? PROTOCOL_VERSION, opts.flags ?? (opts.section ? 1 : 0)]);
  new DataView(out.buffer).setUint32(4, h.length, true);
  out.set(h, 8);
  if (opts.section) out.set(opts.section, start);
  return out;
}
