import { describe, expect, it } from 'vitest';
import { applyGradients, ganSpecFor, initTrainingState, resolveRunConfig } from '@duel/trainer';
import { ganLayout } from '@duel/gan';
import { decodeCheckpoint, encodeCheckpoint } from '@duel/store';
import { ErrorCodes, Rng } from '@duel/util';
import { checkpointOf, trainingStateOf, type CoordinatorCheckpointMeta } from './checkpoint-mapping';

const run = resolveRunConfig({ dataset: 'ring8', steps: 10, seed: 2 });
const layout = ganLayout(ganSpecFor(run));

/** A state a few Adam steps in, so moments, counters and the EMA are all non-trivial. */
function trainedState() {
  const st = initTrainingState(run, layout);
  const rng = new Rng(9);
  for (let step = 1; step <= 3; step++) {
    for (const net of ['D', 'G'] as const) {
      const grads = layout[net].map((s) => ({ name: s.name, shape: [...s.shape], data: rng.fillNormal(new Float32Array(s.shape.reduce((a, b) => a * b, 1))) }));
      applyGradients(st, run, net, grads, step);
    }
  }
  return st;
}

const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

describe('coordinator checkpoint <-> training state', () => {
  it('round-trips weights, both Adam moments and counters, the EMA, versions and the resume position bit for bit', () => {
    const st = trainedState();
    const next = { phase: 'D' as const, step: 4, sub: 0, versions: { g: 3, d: 3 } };
    const cp = checkpointOf('run-x', st, { run, mode: 'sync', shards: 2 }, { next, resolved: [['3.G0.1.0', 'consumed']] }, 12, 1234);
    // A later update must not reach into the snapshot.
    const before = bits(cp.tensors[0].data);
    const kept = st.weights.G[0].data[0];
    st.weights.G[0].data[0] = 123;
    expect(bits(cp.tensors[0].data)).toEqual(before);
    st.weights.G[0].data[0] = kept;

    const back = decodeCheckpoint(encodeCheckpoint(cp));
    const restored = trainingStateOf(back as typeof cp, layout);
    expect(restored.step).toBe(3);
    expect(restored.versions).toEqual({ G: 3, D: 3 });
    for (const net of ['G', 'D'] as const) {
      expect(restored.weights[net].map((w) => bits(w.data))).toEqual(st.weights[net].map((w) => bits(w.data)));
      expect(restored.adam[net].m.map((w) => bits(w.data))).toEqual(st.adam[net].m.map((w) => bits(w.data)));
      expect(restored.adam[net].v.map((w) => bits(w.data))).toEqual(st.adam[net].v.map((w) => bits(w.data)));
      expect([restored.adam[net].t, restored.adam[net].accBeta1, restored.adam[net].accBeta2]).toEqual([st.adam[net].t, st.adam[net].accBeta1, st.adam[net].accBeta2]);
    }
    expect(restored.gEma!.map((w) => bits(w.data))).toEqual(st.gEma!.map((w) => bits(w.data)));
    const meta = back.meta as CoordinatorCheckpointMeta;
    expect(meta).toMatchObject({ runId: 'run-x', next, resolved: [['3.G0.1.0', 'consumed']], appliedResults: 12, rng: { runSeed: 2 } });
  });

  it('round-trips the async pending positions; a sync (or older) checkpoint has no pending field', () => {
    const st = trainedState();
    const next = { phase: 'D' as const, step: 4, sub: 0, versions: { g: 3, d: 3 } };
    const pending = [
      { pos: { phase: 'D' as const, step: 3, sub: 0 }, attempt: 2 },
      { pos: { phase: 'G' as const, step: 3, sub: 0 }, attempt: 1 },
    ];
    const cp = checkpointOf('run-x', st, { run, mode: 'async', shards: 1 }, { next, resolved: [], pending }, 7, 1234);
    pending[0].attempt = 9; // the checkpoint holds its own copy
    const meta = decodeCheckpoint(encodeCheckpoint(cp)).meta as CoordinatorCheckpointMeta;
    expect(meta.pending).toEqual([
      { pos: { phase: 'D', step: 3, sub: 0 }, attempt: 2 },
      { pos: { phase: 'G', step: 3, sub: 0 }, attempt: 1 },
    ]);
    const sync = checkpointOf('run-x', st, { run, mode: 'sync', shards: 2 }, { next, resolved: [] }, 7, 1234);
    expect('pending' in decodeCheckpoint(encodeCheckpoint(sync)).meta).toBe(false);
  });

  it('refuses a checkpoint of another model with DUEL_ERR_CHECKPOINT_MISMATCH', () => {
    const st = trainedState();
    const cp = checkpointOf('run-x', st, { run, mode: 'sync', shards: 2 }, { next: { phase: 'D', step: 4, sub: 0, versions: { g: 3, d: 3 } }, resolved: [] }, 0);
    const other = ganLayout(ganSpecFor(resolveRunConfig({ dataset: 'ring8', steps: 10, hidden: 64 })));
    expect(() => trainingStateOf(cp, other)).toThrow(ErrorCodes.CHECKPOINT_MISMATCH);
    const skewed = { ...cp, meta: { ...cp.meta, next: { ...cp.meta.next, versions: { g: 2, d: 3 } } } };
    expect(() => trainingStateOf(skewed, layout)).toThrow(/versions disagree/);
  });
});
