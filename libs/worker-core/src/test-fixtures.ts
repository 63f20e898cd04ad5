import { resolveDataset } from '@duel/datasets';
import { initWeights, mlp2dSpec, ganLayout } from '@duel/gan';
import { decodeFrame, encodeFrame, type Frame, type JsonObject, type RunInfo, type TaskFrame, type WorkerFrame } from '@duel/protocol';
import type { Transport } from './transport';
import type { WorkerSessionOptions } from './session-options';
import { WorkerSession } from './worker-session';

/** Test-only helpers for the worker-core specs (not exported from index.ts). */

/** The tiny mlp2d of the specs: hidden width 8, pack 2. */
export const TINY_SPEC = mlp2dSpec({ hidden: 8 });
export const TINY_LAYOUT = ganLayout(TINY_SPEC);

export const TEST_RUN: RunInfo = {
  id: 'run-1',
  dataset: 'ring8',
  seed: 7,
  model: TINY_SPEC as unknown as JsonObject,
  loss: 'nonsaturating',
  k: 1,
  batchSize: 16,
  mode: 'sync',
  staleness: 0,
};

/** Records what a session sends, decoded with the real codec (so encoding is checked too). */
export class FakeTransport implements Transport {
  readonly sent: WorkerFrame[] = [];
  closed: { code: number; reason: string } | null = null;

  /** Keeps the decoded frame (views into `bytes`), so it never calls `done`: a session's pooled buffer is not reused under it. */
  send(bytes: Uint8Array): void {
    this.sent.push(decodeFrame(bytes, { from: 'worker' }) as WorkerFrame);
  }

  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }

  /** Frames of type `t`, in order. */
  of<T extends WorkerFrame['t']>(t: T): Extract<WorkerFrame, { t: T }>[] {
    return this.sent.filter((f): f is Extract<WorkerFrame, { t: T }> => f.t === t);
  }
}

export function newSession(opts: Partial<WorkerSessionOptions> = {}): WorkerSession {
  return new WorkerSession({
    kind: 'node',
    capabilities: { backend: 'cpu', device: 'test', maxBatch: 1024 },
    loadDataset: (name) => resolveDataset(name),
    ...opts,
  });
}

/** Feeds a coordinator frame through the real encoder. */
export function feed(session: WorkerSession, frame: Frame): void {
  session.onMessage(encodeFrame(frame));
}

/** hello → welcome → G and D weights at versions (0, 0). */
export async function handshake(session: WorkerSession, transport: FakeTransport, workerId = 'w-1', resumeToken?: string): Promise<void> {
  session.onOpen(transport);
  feed(session, { t: 'welcome', workerId, run: TEST_RUN, heartbeatMs: 1000, versions: { g: 0, d: 0 }, ...(resumeToken ? { resumeToken } : {}) });
  feed(session, { t: 'weights', net: 'G', version: 0, tensors: initWeights(TINY_LAYOUT.G, 1) });
  feed(session, { t: 'weights', net: 'D', version: 0, tensors: initWeights(TINY_LAYOUT.D, 2) });
  await session.idle();
}

export function task(over: Partial<TaskFrame> = {}): TaskFrame {
  return {
    t: 'task',
    taskId: 't-1',
    phase: 'D',
    step: 1,
    sub: 0,
    versions: { g: 0, d: 0 },
    shard: { index: 0, count: 2 },
    batchSize: 8,
    seed: 12345,
    deadlineMs: 30_000,
    ...over,
  } as TaskFrame;
}

export function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
