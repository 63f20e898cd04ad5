/// <reference lib="webworker" />
import { BROWSER_AUTO_ORDER, isBackendName, selectBackend } from '@duel/gan';
import { imageDatasetFromIdx, parseIdx, resolveDataset, type Dataset } from '@duel/datasets';
import { DuelError, ErrorCodes } from '@duel/util';
import { VolunteerRuntime, type SessionToken } from '@duel/worker-core';
import type { FromWorker, ToWorker } from './messages';

/**
 * The volunteer's compute, off the page's thread: picks a tfjs backend
 * (webgpu → webgl → wasm → cpu, or the one the page forces), then runs the
 * same WorkerSession as the Node worker, over this worker's own WebSocket.
 */
const scope = self as unknown as DedicatedWorkerGlobalScope;
let runtime: VolunteerRuntime | null = null;

const post = (m: FromWorker) => scope.postMessage(m);

scope.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  switch (m.type) {
    case 'start':
      start(m).catch((e: Error) => post({ type: 'error', message: e.message }));
      return;
    case 'pause':
      void runtime?.pause('tab hidden');
      return;
    case 'resume':
      runtime?.start();
      return;
    case 'share':
      runtime?.setShare(m.share);
      return;
    case 'stop':
      void (runtime ? runtime.stop('volunteer stopped') : Promise.resolve()).then(() => post({ type: 'stopped' }));
      return;
  }
};

async function start(m: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  if (runtime) return runtime.start();
  const pref = isBackendName(m.backend) ? m.backend : 'auto';
  const chosen = await selectBackend(pref, {
    order: BROWSER_AUTO_ORDER,
    wasmPaths: `${m.origin}/wasm/`,
    registrars: {
      // Loaded only when tried: the webgl backend is large, and most volunteers with WebGPU never need it.
      webgl: async () => {
        await import('@tensorflow/tfjs-backend-webgl');
        return true;
      },
    },
  });
  post({ type: 'backend', name: chosen.name, device: chosen.device, reason: chosen.reason });
  const seed = new Uint32Array(1);
  crypto.getRandomValues(seed);
  runtime = new VolunteerRuntime({
    url: `${m.origin.replace(/^http/, 'ws')}/ws`,
    capabilities: { backend: chosen.name, device: chosen.device, maxBatch: 4096 },
    loadDataset: (name) => resolveDataset(name, () => storedDataset(m.origin, name)),
    getToken: () => session(m.origin, m.invite),
    share: m.share,
    microBatch: m.microBatch,
    jitterSeed: seed[0],
    onStatus: (status) => post({ type: 'status', status }),
    log: (level, event, fields) => {
      if (level !== 'debug') post({ type: 'log', level, event, fields });
    },
  });
  runtime.start();
}

/** POST /api/volunteer/session → { token, expiresAt }; the coordinator's refusal code surfaces as the error. */
async function session(origin: string, invite?: string): Promise<SessionToken> {
  const res = await fetch(`${origin}/api/volunteer/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(invite ? { invite } : {}),
  });
  const body = (await res.json().catch(() => ({}))) as Partial<SessionToken> & { code?: string; message?: string };
  if (!res.ok || typeof body.token !== 'string') throw new Error(`${body.code ?? `HTTP ${res.status}`}: ${body.message ?? 'no session'}`);
  return { token: body.token, expiresAt: Number(body.expiresAt) };
}

/**
 * A stored dataset (MNIST, Fashion-MNIST, an image folder) comes from the
 * coordinator as one gzipped IDX array (GET /api/dataset; the browser inflates
 * it), so the volunteer samples exactly the images a Node worker loads.
 */
async function storedDataset(origin: string, name: string): Promise<Dataset> {
  const res = await fetch(`${origin}/api/dataset`);
  const served = res.headers.get('X-Duel-Dataset');
  if (!res.ok || served !== name) {
    const body = (await res.json().catch(() => ({}))) as { message?: string };
    throw new DuelError(ErrorCodes.DATASET_MISSING, `the coordinator did not serve dataset "${name}" (HTTP ${res.status}${served ? `, it serves "${served}"` : ''}): ${body.message ?? ''}`);
  }
  return imageDatasetFromIdx(name, parseIdx(new Uint8Array(await res.arrayBuffer()), `${name} from ${origin}/api/dataset`));
}
