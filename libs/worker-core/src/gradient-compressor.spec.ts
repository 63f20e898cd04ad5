import { decodeFrame, decodeTensors, encodeFrame, type ResultFrame } from '@duel/protocol';
import { Rng, type NamedWeights } from '@duel/util';
import { describe, expect, it } from 'vitest';
import { GradientCompressor } from './gradient-compressor';

function grads(seed: number): NamedWeights {
  return [{ name: 'D/w', shape: [40, 10], data: new Rng(seed).fillNormal(new Float32Array(400)) }];
}

describe('GradientCompressor', () => {
  it('fp32 (the default) passes gradients through untouched', () => {
    const c = new GradientCompressor();
    const g = grads(1);
    expect(c.compress('D', g)).toBe(g);
    expect(c.residualMax('D')).toBe(0);
  });

  it('int8 keeps a residual per net, and a coded result frame decodes to gradient + old residual − new residual', () => {
    const c = new GradientCompressor();
    c.configure({ name: 'int8' }, 'run-a');
    const g1 = grads(1);
    c.compress('D', g1);
    const r1 = c.residualMax('D');
    expect(r1).toBeGreaterThan(0);
    expect(c.residualMax('G')).toBe(0);
    const wire = c.compress('D', grads(2));
    const frame = decodeFrame(
      encodeFrame({ t: 'result', taskId: 't', workerId: 'w', phase: 'D', versions: { g: 0, d: 0 }, grads: wire, codec: 'int8', stats: { loss: 0, dReal: 0, dFake: 0, samples: 1, computeMs: 0 } }),
    ) as ResultFrame;
    expect(frame.grads[0].data).toEqual(decodeTensors('int8', wire)[0].data);
  });

  it('a new run or codec starts from a zero residual; the same one keeps it', () => {
    const c = new GradientCompressor();
    c.configure({ name: 'topk', ratio: 0.1 }, 'run-a');
    c.compress('G', grads(3));
    const kept = c.residualMax('G');
    c.configure({ name: 'topk', ratio: 0.1 }, 'run-a');
    expect(c.residualMax('G')).toBe(kept);
    c.configure({ name: 'topk', ratio: 0.2 }, 'run-a');
    expect(c.residualMax('G')).toBe(0);
    c.compress('G', grads(3));
    c.configure({ name: 'topk', ratio: 0.2 }, 'run-b');
    expect(c.residualMax('G')).toBe(0);
  });
});
