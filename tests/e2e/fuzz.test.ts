import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Packr, Unpackr, type Options } from 'msgpackr';
import type { WebSocket } from 'ws';
import { defaultCoordinatorOptions, frameParser, RoundsGateway, startCoordinator, type RunningCoordinator } from '@duel/coordinator';
import { decodeFrame, encodeFrame, maxPayloadFor, PROTOCOL_VERSION, type Frame, type TaskFrame } from '@duel/protocol';
import { resolveRunConfig } from '@duel/trainer';
import { tf } from '@duel/gan';
import { Rng, type NamedWeights, type TensorSpec } from '@duel/util';
import { RawClient } from '../support/raw-client';

/**
 * Fuzz of the coordinator's whole receive path (parser → gateway → service →
 * round machine): random and mutated frames — truncated msgpack, wrong types,
 * huge declared lengths, NaN/±Inf, wrong shapes, replayed and stale results,
 * frames before the handshake, `__proto__` keys. Zero crashes, every frame
 * answered with a frame (an error code, ack, pong, welcome) or a close, and the
 * weights bit-identical before and after. 100k frames go through the
 * production frame parser (the WsAdapter's decode + validate), 12k more
 * through the whole path in-process (the production gateway with socket
 * doubles), then hostile frames over real sockets.
 */
/** Frames through the production frame parser (decode + validate against the run's layout). */
const PARSER_FRAMES = Number(process.env.DUEL_FUZZ_PARSER_FRAMES ?? 100_000);
/** Frames through the whole receive path in-process (parser, gateway, service, round machine). */
const IN_PROCESS_FRAMES = Number(process.env.DUEL_FUZZ_FRAMES ?? 12_000);
const SOCKET_CONNECTIONS = 150;

const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true } as Options);
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true } as Options);

function assemble(header: unknown, section?: Uint8Array, flags?: number): Uint8Array {
  const h = packr.pack(header);
  const start = section ? Math.ceil((8 + h.length) / 8) * 8 : 8 + h.length;
  const out = new Uint8Array(start + (section?.length ?? 0));
  out.set([0x44, 0x55, PROTOCOL_VERSION, flags ?? (section ? 1 : 0)]);
  new DataView(out.buffer).setUint32(4, h.length, true);
  out.set(h, 8);
  if (section) out.set(section, start);
  return out;
}

function split(bytes: Uint8Array): { header: Record<string, unknown>; section?: Uint8Array } {
  const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
  const header = unpackr.unpack(bytes.subarray(8, 8 + len)) as Record<string, unknown>;
  return { header, section: bytes[3] & 1 ? bytes.subarray(Math.ceil((8 + len) / 8) * 8) : undefined };
}

const EVIL: ((rng: Rng) => unknown)[] = [
  () => null,
  () => -1,
  () => 2 ** 53 + 2,
  () => Number.NaN,
  () => Number.POSITIVE_INFINITY,
  () => 0.5,
  (rng) => 'x'.repeat(rng.int(3) === 0 ? 6000 : 3),
  () => '',
  () => true,
  () => [],
  () => new Array(3000).fill(7),
  // JSON.parse makes `__proto__` an own key (an object literal would set the prototype instead).
  () => JSON.parse('{"__proto__": {"polluted": 1}}'),
  () => JSON.parse('{"constructor": {"prototype": {"polluted": 1}}}'),
  () => ({ polluted: true }),
  () => 4294967295,
  (rng) => rng.nextUint32(),
];

/** Replaces, deletes or adds one header field (recursively chosen), or wraps the header in a Map with `__proto__`. */
function headerMutant(bytes: Uint8Array, rng: Rng): Uint8Array {
  const { header, section } = split(bytes);
  const slots: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (o: unknown): void => {
    if (Array.isArray(o)) {
      o.forEach((v, i) => {
        slots.push([o, i]);
        walk(v);
      });
    } else if (o && typeof o === 'object' && !ArrayBuffer.isView(o)) {
      const rec = o as Record<string, unknown>;
      for (const k of Object.keys(rec)) {
        slots.push([rec, k]);
        walk(rec[k]);
      }
    }
  };
  walk(header);
  const roll = rng.int(12);
  if (roll === 0) return assemble({ ...JSON.parse('{"__proto__": {"polluted": true}}'), ...header }, section);
  const [obj, k] = slots[rng.int(slots.length)];
  if (roll === 1 && !Array.isArray(obj)) delete obj[k as string];
  else if (roll === 2 && !Array.isArray(obj)) obj['__proto__x'.slice(0, rng.int(2) ? 9 : 10)] = EVIL[rng.int(EVIL.length)](rng);
  else (obj as Record<string | number, unknown>)[k] = EVIL[rng.int(EVIL.length)](rng);
  return assemble(header, section);
}

function byteMutant(base: Uint8Array, rng: Rng): Uint8Array {
  const b = base.slice();
  const v = new DataView(b.buffer);
  switch (rng.int(7)) {
    case 0:
      return b.subarray(0, rng.int(b.length)); // truncated
    case 1:
      for (let i = 0, n = 1 + rng.int(4); i < n; i++) b[rng.int(b.length)] ^= 1 << rng.int(8);
      return b;
    case 2:
      v.setUint32(4, rng.int(2) ? 0xffffffff - rng.int(100) : v.getUint32(4, true) + rng.int(17) - 8, true); // huge or off-by-some header length
      return b;
    case 3:
      return Uint8Array.from({ length: rng.int(300) }, () => rng.int(256));
    case 4:
      b[2 + rng.int(2)] = rng.int(256); // version / flags
      return b;
    case 5: {
      const at = 8 + 4 * rng.int(Math.max(1, (b.length - 8) >> 2)); // NaN/±Inf at a float slot
      if (at + 4 <= b.length) v.setUint32(at, [0x7fc00000, 0x7f800000, 0xff800000][rng.int(3)], true);
      return b;
    }
    default:
      return new Uint8Array([...b, ...Array.from({ length: 1 + rng.int(16) }, () => rng.int(256))]); // trailing bytes
  }
}

function digest(...sets: NamedWeights[]): string {
  const h = createHash('sha256');
  for (const ws of sets) for (const w of ws) h.update(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength));
  return h.digest('hex');
}

/** A socket double for the in-process part: counts what the gateway sends and how it closes. */
class FakeSocket {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  sent = 0;
  closeCode: number | null = null;
  readonly inbox: Uint8Array[] = [];
  send(bytes: Uint8Array): void {
    this.sent++;
    // Keep frames without tensors (welcome, task, ack, error) to read tasks and codes back.
    if ((bytes[3] & 1) === 0) this.inbox.push(bytes);
  }
  close(code: number): void {
    if (this.closeCode === null) this.closeCode = code;
    this.readyState = 3;
  }
  terminate(): void {
    this.close(1006);
  }
}

describe('coordinator fuzz (real gateway, service and round machine)', () => {
  let c: RunningCoordinator;
  let before: string;
  let layout: { G: readonly TensorSpec[]; D: readonly TensorSpec[] };

  beforeAll(async () => {
    await tf.setBackend('cpu');
    const run = resolveRunConfig({ dataset: 'ring8', steps: 100, batchSize: 16, hidden: 8, seed: 9 });
    c = await startCoordinator(
      defaultCoordinatorOptions(run, { port: 0, shards: 1, maxConnectionsPerIp: 100_000, maxConnections: 100_000, frameRate: { burst: 50, perSecond: 1e6 } }),
      ['error'],
    );
    layout = c.service.layout as unknown as typeof layout;
    before = digest(c.service.state.weights.G, c.service.state.weights.D);
  });

  afterAll(async () => {
    await c?.close();
  });

  const resultFor = (workerId: string, task: Pick<TaskFrame, 'taskId' | 'phase' | 'versions'>, fill: (d: Float32Array) => void) =>
    encodeFrame({
      t: 'result',
      taskId: task.taskId,
      workerId,
      phase: task.phase,
      versions: task.versions,
      grads: layout[task.phase].map((s) => {
        const data = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
        fill(data);
        return { name: s.name, shape: [...s.shape], data };
      }),
      stats: { loss: 1, dReal: 0.5, dFake: 0.5, samples: 16, computeMs: 1 },
    });

  it(`the frame parser answers ${PARSER_FRAMES} random and mutated frames with a frame or a stable code, never a throw`, () => {
    const parse = frameParser(c.service.layout);
    const rng = new Rng(20261124);
    const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    const task = { taskId: '1.D0.0.0', phase: 'D' as const, versions: { g: 0, d: 0 } };
    const seeds: Uint8Array[] = [
      encodeFrame({ t: 'ping', ts: 1 }),
      encodeFrame({ t: 'hello', protocol: PROTOCOL_VERSION, kind: 'volunteer', token: 'dv1.x.y.z', capabilities: { backend: 'wasm', device: 'fuzz', maxBatch: 64, codecs: ['fp32'] }, resume: { workerId: 'w-1', token: 'A'.repeat(43) } }),
      encodeFrame({ t: 'bye', reason: 'x' }),
      encodeFrame({ t: 'error', code: 'DUEL_ERR_INTERNAL', message: 'm', fatal: false }),
      resultFor('w-1', task, (d) => d.fill(0.25)),
      resultFor('w-1', { ...task, phase: 'G', taskId: '1.G0.0.0' }, (d) => d.fill(-0.5)),
    ];
    const codes = new Map<string, number>();
    const thrown: string[] = [];
    let accepted = 0;
    for (let i = 0; i < PARSER_FRAMES; i++) {
      const base = seeds[rng.int(seeds.length)];
      const roll = rng.int(10);
      const bytes = roll < 5 ? headerMutant(base, rng) : roll < 9 ? byteMutant(base, rng) : Uint8Array.from({ length: rng.int(64) }, () => rng.int(256));
      try {
        const msg = parse(bytes).data;
        if (msg.ok) accepted++;
        else codes.set(msg.error.code, (codes.get(msg.error.code) ?? 0) + 1);
      } catch (e) {
        thrown.push(String(e));
      }
    }
    process.stderr.write(`[fuzz] parser: ${PARSER_FRAMES} frames, ${accepted} valid; codes ${JSON.stringify(Object.fromEntries(codes))}\n`);
    expect(thrown.slice(0, 5)).toEqual([]);
    expect(codes.get('DUEL_ERR_INTERNAL') ?? 0).toBe(0);
    for (const code of ['DUEL_ERR_BAD_FRAME', 'DUEL_ERR_UNKNOWN_FRAME', 'DUEL_ERR_PROTOCOL_VERSION', 'DUEL_ERR_SHAPE_MISMATCH', 'DUEL_ERR_NON_FINITE']) {
      expect(codes.get(code) ?? 0, code).toBeGreaterThan(0);
    }
    expect(accepted + [...codes.values()].reduce((a, b) => a + b, 0)).toBe(PARSER_FRAMES);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  }, 120_000);

  it(`answers ${IN_PROCESS_FRAMES} hostile frames in-process with a code or a close, and changes nothing`, () => {
    const gateway = c.app.get(RoundsGateway);
    const parse = frameParser(c.service.layout);
    const rng = new Rng(20261123);
    const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    const seeds: Uint8Array[] = [
      encodeFrame({ t: 'ping', ts: 1 }),
      encodeFrame({ t: 'pong', ts: 1, echo: 1 }),
      encodeFrame({ t: 'bye', reason: 'x' }),
      encodeFrame({ t: 'error', code: 'DUEL_ERR_INTERNAL', message: 'm', fatal: false }),
      encodeFrame({ t: 'hello', protocol: PROTOCOL_VERSION, kind: 'node', capabilities: { backend: 'cpu', device: 'fuzz', maxBatch: 64 } }),
      encodeFrame({ t: 'hello', protocol: PROTOCOL_VERSION, kind: 'volunteer', token: 'dv1.x.y.z', capabilities: { backend: 'wasm', device: 'fuzz', maxBatch: 64 } }),
      encodeFrame({ t: 'task', taskId: '1.D0.0.0', phase: 'D', versions: { g: 0, d: 0 }, step: 1, sub: 0, shard: { index: 0, count: 1 }, batchSize: 16, seed: 1, deadlineMs: 1000 }),
      encodeFrame({ t: 'ack', taskId: '1.D0.0.0', status: 'applied' }),
      resultFor('w-1', { taskId: '1.D0.0.0', phase: 'D', versions: { g: 0, d: 0 } }, (d) => d.fill(0.01)),
      resultFor('w-1', { taskId: '9.G0.0.0', phase: 'G', versions: { g: 7, d: 7 } }, (d) => d.fill(0.01)),
      // A hijack attempt: resume another worker's id with a forged token (RESUME_REFUSED, a new id, nobody evicted).
      encodeFrame({ t: 'hello', protocol: PROTOCOL_VERSION, kind: 'node', capabilities: { backend: 'cpu', device: 'fuzz', maxBatch: 64 }, resume: { workerId: 'w-1-x', token: 'A'.repeat(43) } }),
    ];
    const oversize = new Uint8Array(maxPayloadFor(c.service.layout) + 8);
    oversize.set([0x44, 0x55, PROTOCOL_VERSION, 0, 1, 0, 0, 0, 0xc0]);
    const stats = { frames: 0, connections: 0, silent: [] as string[], thrown: [] as string[], codes: new Map<string, number>(), noAnswerNeeded: 0 };
    const decodeCode = (b: Uint8Array) => {
      try {
        const f = decodeFrame(b) as Frame;
        return f.t === 'error' ? f.code : f.t === 'ack' && f.code ? f.code : null;
      } catch {
        return null;
      }
    };

    while (stats.frames < IN_PROCESS_FRAMES) {
      const ws = new FakeSocket();
      const sock = ws as unknown as WebSocket;
      gateway.handleConnection(sock, { socket: { remoteAddress: `10.9.${stats.connections % 200}.1` } } as never);
      stats.connections++;
      let workerId: string | null = null;
      const tasks: TaskFrame[] = [];
      // 0–3: hostile from the first frame; 4–9: a valid hello first, then mostly frames that keep the
      // connection open (poisoned results, pings), so most frames reach the deep checks.
      const mode = rng.int(10);
      const n = mode < 4 ? 1 + rng.int(4) : 10 + rng.int(90);
      for (let i = 0; i < n && ws.closeCode === null && stats.frames < IN_PROCESS_FRAMES; i++) {
        let bytes: Uint8Array;
        if (i === 0 && mode >= 4) bytes = mode === 9 ? seeds[10] : seeds[4];
        else {
          const pick = rng.int(20);
          const task = tasks.length ? tasks[rng.int(tasks.length)] : { taskId: '1.D0.0.0', phase: 'D' as const, versions: { g: 0, d: 0 } };
          if (pick < 14 && workerId) {
            // A result for a real task: always poisoned (NaN, wrong version, wrong worker), or a replay of a bad one.
            const roll = rng.int(16);
            const kind = roll < 6 ? 0 : roll < 11 ? 1 : roll < 12 ? 2 : 3;
            bytes =
              kind === 0
                ? resultFor(workerId, task, (d) => (d[rng.int(d.length)] = [Number.NaN, Infinity, -Infinity][rng.int(3)]))
                : kind === 1
                  ? resultFor(workerId, { ...task, versions: { g: task.versions.g + 1 + rng.int(5), d: task.versions.d + 1 } }, (d) => d.fill(0.5))
                  : kind === 2
                    ? resultFor(`w-other-${rng.int(9)}`, task, (d) => d.fill(0.5))
                    : resultFor(workerId, { ...task, taskId: `${task.taskId}9` }, (d) => d.fill(0.5));
            if (rng.int(20) === 0) bytes = byteMutant(bytes, rng);
          } else if (pick < 16) {
            bytes = seeds[rng.int(4)]; // ping, pong, bye, error: valid, some answered, bye closes
          } else if (pick === 16 && rng.int(8) === 0) {
            bytes = oversize; // past maxPayload: FRAME_TOO_LARGE
          } else if (workerId && pick < 19) {
            bytes = seeds[rng.int(4)];
          } else {
            const base = seeds[rng.int(seeds.length)];
            bytes = rng.int(2) ? headerMutant(base, rng) : byteMutant(base, rng);
          }
        }
        const sentBefore = ws.sent;
        const inboxBefore = ws.inbox.length;
        const msg = parse(bytes).data;
        try {
          gateway.onFrame(sock, msg);
        } catch (e) {
          stats.thrown.push(String(e));
        }
        stats.frames++;
        const answered = ws.sent > sentBefore || ws.closeCode !== null;
        const quietOk = msg.ok && (msg.frame.t === 'pong' || msg.frame.t === 'error');
        if (!answered && !quietOk) stats.silent.push(msg.ok ? msg.frame.t : msg.error.code);
        if (quietOk && !answered) stats.noAnswerNeeded++;
        for (const b of ws.inbox.slice(inboxBefore)) {
          const code = decodeCode(b);
          if (code) stats.codes.set(code, (stats.codes.get(code) ?? 0) + 1);
          if (!workerId || tasks.length < 4) {
            const f = decodeFrame(b);
            if (f.t === 'welcome') workerId = f.workerId;
            if (f.t === 'task') tasks.push(f);
          }
        }
      }
      gateway.handleDisconnect(sock);
    }

    process.stderr.write(`[fuzz] in-process: ${stats.frames} frames over ${stats.connections} connections; codes ${JSON.stringify(Object.fromEntries(stats.codes))}\n`);
    expect(stats.thrown.slice(0, 5)).toEqual([]);
    expect(stats.silent.slice(0, 10)).toEqual([]);
    expect(stats.frames).toBeGreaterThanOrEqual(IN_PROCESS_FRAMES);
    // The mutations reach deep checks, not only the envelope.
    for (const code of ['DUEL_ERR_BAD_FRAME', 'DUEL_ERR_NOT_HELLO', 'DUEL_ERR_NON_FINITE', 'DUEL_ERR_FRAME_TOO_LARGE', 'DUEL_ERR_RESUME_REFUSED']) {
      expect(stats.codes.get(code) ?? 0, code).toBeGreaterThan(0);
    }
    expect((stats.codes.get('DUEL_ERR_UNKNOWN_TASK') ?? 0) + (stats.codes.get('DUEL_ERR_STALE_VERSION') ?? 0)).toBeGreaterThan(0);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(digest(c.service.state.weights.G, c.service.state.weights.D)).toBe(before);
    expect(c.service.state.versions).toEqual({ G: 0, D: 0 });
  }, 120_000);

  it(`answers hostile frames over ${SOCKET_CONNECTIONS} real connections, and still serves`, async () => {
    const rng = new Rng(7);
    const seeds = [encodeFrame({ t: 'ping', ts: 1 }), encodeFrame({ t: 'hello', protocol: PROTOCOL_VERSION, kind: 'node', capabilities: { backend: 'cpu', device: 'fuzz', maxBatch: 64 } })];
    let answered = 0;
    for (let i = 0; i < SOCKET_CONNECTIONS; i++) {
      const w = await RawClient.connect(c.wsUrl);
      const n = 1 + rng.int(8);
      for (let j = 0; j < n; j++) {
        const base = seeds[rng.int(seeds.length)];
        w.sendRaw(rng.int(2) ? headerMutant(base, rng) : byteMutant(base, rng));
      }
      // A coded error frame or a close (ws closes an oversize frame itself with 1009); a mutant that is
      // still a valid hello or ping is answered with welcome or pong.
      const deadline = Date.now() + 2000;
      const replied = () => w.frames.some((f) => (f.t === 'error' && /^DUEL_ERR_[A-Z0-9_]+$/.test(f.code)) || f.t === 'welcome' || f.t === 'pong');
      while (!w.closed && !replied() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      if (w.closed || replied()) answered++;
      w.close();
    }
    expect(answered).toBe(SOCKET_CONNECTIONS);
    expect(digest(c.service.state.weights.G, c.service.state.weights.D)).toBe(before);
    const res = await fetch(`${c.url}/api/status`);
    expect(res.status).toBe(200);
  }, 60_000);
});
