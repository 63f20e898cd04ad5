import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCoordinatorOptions, startCoordinator, type RunningCoordinator } from '@duel/coordinator';
import { tf } from '@duel/gan';
import { decodeFrame, type WeightsFrame } from '@duel/protocol';
import { resolveRunConfig, samplingWeights } from '@duel/trainer';
import { parseIdx, resolveDataset, type ImageDataset } from '@duel/datasets';
import { nodeDatasetLoader } from '@duel/datasets-node';

/** Reads the first SSE event of /api/events (the snapshot). */
async function firstEvent(url: string): Promise<{ event: string; data: Record<string, unknown> }> {
  const ac = new AbortController();
  const res = await fetch(`${url}/api/events`, { signal: ac.signal });
  expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
  const reader = res.body!.getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('stream ended');
    buf += new TextDecoder().decode(value);
    const end = buf.indexOf('\n\n');
    if (end < 0) continue;
    ac.abort();
    const lines = buf.slice(0, end).split('\n');
    const field = (k: string) => lines.find((l) => l.startsWith(`${k}:`))?.slice(k.length + 1).trim() ?? '';
    return { event: field('event'), data: JSON.parse(field('data')) };
  }
}

/** The dashboard's HTTP API on a real NestJS app, without a browser. */
describe('dashboard API (real coordinator, no admin token, no web build)', () => {
  let c: RunningCoordinator;
  const webDir = mkdtempSync(join(tmpdir(), 'duel-web-'));

  beforeAll(async () => {
    await tf.setBackend('cpu');
    process.env['DUEL_WEB_DIR'] = webDir; // an empty build directory
    const run = resolveRunConfig({ dataset: 'ring8', steps: 10, batchSize: 16, hidden: 8, seed: 2 });
    c = await startCoordinator(defaultCoordinatorOptions(run, { port: 0 }));
  });

  afterAll(async () => {
    delete process.env['DUEL_WEB_DIR'];
    await c?.close();
  });

  it('says the pages are not built (503 DUEL_ERR_WEB_NOT_BUILT), cross-origin isolated like every response', async () => {
    for (const path of ['/', '/volunteer']) {
      const res = await fetch(`${c.url}${path}`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { code: string }).code).toBe('DUEL_ERR_WEB_NOT_BUILT');
      expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    }
  });

  it('refuses every control when DUEL_ADMIN_TOKEN is unset (403), even with a bearer, and changes nothing', async () => {
    for (const body of [{ action: 'pause' }, { action: 'set', k: 3 }]) {
      const res = await fetch(`${c.url}/api/control`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer anything' }, body: JSON.stringify(body) });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { code: string }).code).toBe('DUEL_ERR_UNAUTHORIZED');
    }
    expect(c.service.roundSettings()).toMatchObject({ paused: false, k: 1 });
  });

  it('serves G\'s sampling weights as a msgpack weights frame that decodes to the coordinator\'s tensors', async () => {
    const res = await fetch(`${c.url}/api/weights/G`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-duel-version')).toBe('0');
    const f = decodeFrame(new Uint8Array(await res.arrayBuffer()), { from: 'coordinator' }) as WeightsFrame;
    const want = samplingWeights(c.service.state);
    expect(f.net).toBe('G');
    expect(f.tensors.map((t) => t.name)).toEqual(want.map((t) => t.name));
    for (let i = 0; i < want.length; i++) expect(Array.from(f.tensors[i].data)).toEqual(Array.from(want[i].data));
    expect((await fetch(`${c.url}/api/weights/D`)).status).toBe(400);
  });

  it('serves the model spec, and a snapshot first on the SSE feed', async () => {
    const model = (await (await fetch(`${c.url}/api/model`)).json()) as { dataset: string; dataShape: number[]; spec: { latentDim: number } };
    expect(model.dataset).toBe('ring8');
    expect(model.dataShape).toEqual([2]);
    expect(model.spec.latentDim).toBeGreaterThan(0);
    const first = await firstEvent(c.url);
    expect(first.event).toBe('snapshot');
    expect(first.data).toMatchObject({ kind: 'snapshot', run: { dataset: 'ring8', step: 0, k: 1, paused: false, strategy: 'mean', controls: false }, workers: [], history: [] });
  });

  it('does not serve generated datasets (ring8 is built by the volunteer itself)', async () => {
    const res = await fetch(`${c.url}/api/dataset`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe('DUEL_ERR_BAD_ARGUMENT');
  });
});

describe('dataset for browser volunteers (real coordinator on MNIST)', () => {
  it('serves the run\'s training images as one gzipped IDX array, byte for byte what a Node worker loads', async () => {
    const run = resolveRunConfig({ dataset: 'mnist', model: 'mlp', steps: 1, batchSize: 16, seed: 1 });
    const c = await startCoordinator(defaultCoordinatorOptions(run, { port: 0 }));
    try {
      const res = await fetch(`${c.url}/api/dataset`); // fetch inflates Content-Encoding: gzip
      expect(res.status).toBe(200);
      expect(res.headers.get('x-duel-dataset')).toBe('mnist');
      const idx = parseIdx(new Uint8Array(await res.arrayBuffer()));
      expect(idx.dims).toEqual([60000, 28, 28, 1]);
      const local = (await resolveDataset('mnist', nodeDatasetLoader())) as ImageDataset;
      expect(Buffer.compare(Buffer.from(idx.data as Uint8Array), Buffer.from(local.pixels))).toBe(0);
    } finally {
      await c.close();
    }
  });
});
