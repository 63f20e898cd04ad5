/**
 * A brief answer to "where does the coordinator's time go?": V8's sampling
 * profiler (node:inspector) over the ingest window, self time grouped into
 * the stages a result passes through. No extra dependency, no files.
 */
import { Session } from 'node:inspector/promises';

export interface ProfileSummary {
  /** Share of the window the main thread was busy (not idle), 0..1. */
  busy: number;
  /** Busy time per stage, as shares of busy time, largest first. */
  stages: { stage: string; share: number }[];
  /** The hottest functions by self time. */
  top: { fn: string; share: number }[];
}

interface CallFrame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Ordered: the first rule whose test matches names the stage. */
const STAGES: [string, (f: CallFrame) => boolean][] = [
  ['idle', (f) => f.functionName === '(idle)'],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  // applyGradients is the optimizer's caller; V8 inlines adamStep into it, so its samples are Adam's.
  // wasm://: the Adam kernel (adam-kernel.wat) is the only WebAssembly the coordinator runs.
  ['Adam (server optimizer)', (f) => /aggregation\/src\/adam|trainer\/src\/training-state|^wasm:/.test(f.url)],
  ['aggregation (strategy, kernels)', (f) => /aggregation\/src/.test(f.url)],
  // allFiniteRemembered: the decoder's one pass over every received value (the strategy trusts it).
  ['finiteness check (util)', (f) => /util\/src\/named-weights/.test(f.url)],
  ['encode (weights broadcast, frames)', (f) => /protocol\/src/.test(f.url) && /encode|write|plan|copy|pack/i.test(f.functionName)],
  ['decode + validate', (f) => /protocol\/src|msgpackr/.test(f.url)],
  ['round machine', (f) => /rounds\/src/.test(f.url)],
  ['ws framing + sockets', (f) => /node_modules\/ws\//.test(f.url) || /^node:(net|stream|internal\/stream|internal\/net)/.test(f.url)],
  ['coordinator, Nest, rxjs, metrics', (f) => /coordinator\/src|@nestjs|rxjs|prom-client|trainer\/src/.test(f.url)],
  ['other JS', (f) => f.url !== ''],
  ['native (program, memcpy, Buffer)', () => true],
];

export async function startProfile(): Promise<{ stop: () => Promise<ProfileSummary> }> {
  const s = new Session();
  s.connect();
  await s.post('Profiler.enable');
  await s.post('Profiler.setSamplingInterval', { interval: 500 });
  await s.post('Profiler.start');
  return {
    stop: async () => {
      const { profile } = (await s.post('Profiler.stop')) as unknown as { profile: CpuProfile };
      s.disconnect();
      return summarise(profile);
    },
  };
}

export function summarise(p: CpuProfile): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const stageUs = new Map<string, number>();
  const fnUs = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const f = byId.get(p.samples[i]);
    const dt = p.timeDeltas[i] ?? 0;
    if (!f) continue;
    total += dt;
    const stage = STAGES.find(([, test]) => test(f))![0];
    stageUs.set(stage, (stageUs.get(stage) ?? 0) + dt);
    if (stage !== 'idle') {
      const file = f.url.split('/').slice(-1)[0] || 'native';
      // Line numbers are tsx's output, not the source's, so only the file is named.
      const key = `${f.functionName || '(anonymous)'} (${file})`;
      fnUs.set(key, (fnUs.get(key) ?? 0) + dt);
    }
  }
  const busyUs = total - (stageUs.get('idle') ?? 0);
  const share = (us: number) => (busyUs > 0 ? us / busyUs : 0);
  return {
    busy: total > 0 ? busyUs / total : 0,
    stages: [...stageUs]
      .filter(([stage]) => stage !== 'idle')
      .map(([stage, us]) => ({ stage, share: share(us) }))
      .sort((a, b) => b.share - a.share),
    top: [...fnUs]
      .map(([fn, us]) => ({ fn, share: share(us) }))
      .sort((a, b) => b.share - a.share)
      .slice(0, 8),
  };
}
