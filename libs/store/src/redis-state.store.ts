import { createClient, RESP_TYPES } from 'redis';
import { DuelError, ErrorCodes } from '@duel/util';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint-codec';
import {
  KEEP_CHECKPOINTS,
  MAX_METRICS_POINTS,
  type CheckpointData,
  type CheckpointMeta,
  type CheckpointRef,
  type Credit,
  type LoadedCheckpoint,
  type MetricsPoint,
  type RefusedCheckpoint,
  type RegisteredWorker,
  type RunRecord,
  type StateStore,
} from './state-store';
import { parseMetricsPoint, StateStoreBase } from './state-store.base';

export interface RedisStoreOptions {
  /** REDIS_URL, e.g. redis://127.0.0.1:6379 */
  url: string;
  /** Key prefix, so several runs (and tests) share one Redis; default "duel". */
  prefix?: string;
  /** How long open() waits for the first connection; default 5000 ms. */
  connectTimeoutMs?: number;
}

type Client = ReturnType<typeof createClient>;

/**
 * The state store in Redis (node-redis v5). Keys, under `<prefix>:`:
 *
 * | key | type | what |
 * |---|---|---|
 * | run | string | the RunRecord (JSON) |
 * | ckpt:seq | counter | last checkpoint sequence number |
 * | ckpt:<seq> | string | one checkpoint blob (checkpoint-codec.ts) |
 * | ckpt:latest | string | the seq of the current checkpoint (the pointer) |
 * | worker:<id> | string, PX ttl | registry entry; expires without heartbeats |
 * | lease:<key> | string, PX ttl | holder of a shard |
 * | credit:applied, credit:samples | hash | per-worker credit |
 * | metrics | list | metrics history, trimmed |
 *
 * A checkpoint blob and its pointer are written in one MULTI, so a reader
 * sees the old pair or the new pair. Commands fail fast while Redis is down
 * (no offline queue): the coordinator keeps training from memory, and
 * `onReconnect` tells it to write everything again once Redis is back.
 */
export class RedisStateStore extends StateStoreBase<RedisStoreOptions, 'prefix' | 'connectTimeoutMs'> implements StateStore {
  readonly kind = 'redis' as const;
  private client: Client | null = null;
  private everReady = false;

  constructor(opts: RedisStoreOptions) {
    super(opts, { prefix: 'duel', connectTimeoutMs: 5000 }, (o) => `${redactUrl(o.url)} (prefix ${o.prefix})`);
  }

  private k(key: string): string {
    return `${this.opts.prefix}:${key}`;
  }

  private get c(): Client {
    if (!this.client?.isReady) throw new DuelError(ErrorCodes.STORE_UNAVAILABLE, `Redis at ${this.location} is not connected`);
    return this.client;
  }

  async open(): Promise<void> {
    const client = createClient({
      url: this.opts.url,
      disableOfflineQueue: true,
      socket: { connectTimeout: this.opts.connectTimeoutMs, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** Math.min(retries, 5), 2000) },
    });
    // node-redis emits 'error' on every failed reconnect; unhandled, it would crash the process.
    client.on('error', () => undefined);
    client.on('ready', () => {
      if (this.everReady) this.reconnected();
      this.everReady = true;
    });
    this.client = client;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.connect(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), this.opts.connectTimeoutMs))),
      ]);
    } catch (e) {
      this.client = null;
      client.destroy();
      throw new DuelError(ErrorCodes.STORE_UNAVAILABLE, `cannot reach Redis at ${this.location}: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (!c) return;
    try {
      if (c.isReady) await c.close();
      else c.destroy();
    } catch {
      c.destroy();
    }
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.c.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async saveRun(run: RunRecord): Promise<void> {
    await this.c.set(this.k('run'), JSON.stringify(run));
  }

  async loadRun(): Promise<RunRecord | null> {
    const s = await this.c.get(this.k('run'));
    return s ? (JSON.parse(s) as RunRecord) : null;
  }

  async writeCheckpoint(cp: CheckpointData): Promise<CheckpointRef> {
    const bytes = encodeCheckpoint(cp);
    const seq = await this.c.incr(this.k('ckpt:seq'));
    const id = this.k(`ckpt:${seq}`);
    // The blob and the pointer in one transaction: readers see the old pair or the new one.
    await this.c.multi().set(id, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).set(this.k('ckpt:latest'), String(seq)).exec();
    const stale = (await this.seqs()).slice(KEEP_CHECKPOINTS);
    if (stale.length) await this.c.del(stale.map((s) => this.k(`ckpt:${s}`)));
    return { id, seq, step: cp.meta.step, bytes: bytes.byteLength, createdAt: cp.meta.createdAt };
  }

  async loadCheckpoint<M extends CheckpointMeta>(): Promise<LoadedCheckpoint<M> | null> {
    const refused: RefusedCheckpoint[] = [];
    const latest = Number(await this.c.get(this.k('ckpt:latest')));
    const seqs = await this.seqs();
    const order = Number.isInteger(latest) && latest > 0 ? [latest, ...seqs.filter((s) => s !== latest)] : seqs;
    const bin = this.c.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    for (const seq of order) {
      const id = this.k(`ckpt:${seq}`);
      const bytes = (await bin.get(id)) as Buffer | null;
      if (!bytes) {
        refused.push({ id, code: ErrorCodes.CHECKPOINT_CORRUPT, message: `${id}: the pointer names a checkpoint that is missing` });
        continue;
      }
      try {
        const data = decodeCheckpoint(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), id) as CheckpointData<M>;
        return { ref: { id, seq, step: data.meta.step, bytes: bytes.byteLength, createdAt: data.meta.createdAt }, data, refused };
      } catch (e) {
        const err = e as DuelError;
        refused.push({ id, code: err.code ?? ErrorCodes.CHECKPOINT_CORRUPT, message: err.message });
      }
    }
    return null;
  }

  async listCheckpoints(): Promise<CheckpointRef[]> {
    const out: CheckpointRef[] = [];
    const bin = this.c.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    for (const seq of await this.seqs()) {
      const id = this.k(`ckpt:${seq}`);
      const bytes = (await bin.get(id)) as Buffer | null;
      if (!bytes) continue;
      try {
        const { meta } = decodeCheckpoint(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), id);
        out.push({ id, seq, step: meta.step, bytes: bytes.byteLength, createdAt: meta.createdAt });
      } catch {
        // Reported by loadCheckpoint as refused.
      }
    }
    return out;
  }

  /** Raw access for tests (to corrupt a stored blob). */
  raw(): Client {
    return this.c;
  }

  keyOf(key: string): string {
    return this.k(key);
  }

  /** Deletes every key under this store's prefix (tests and benches clean up after themselves with it). */
  async dropPrefix(): Promise<void> {
    const keys: string[] = [];
    for await (const batch of this.c.scanIterator({ MATCH: this.k('*'), COUNT: 500 })) keys.push(...([batch].flat() as string[]));
    if (keys.length) await this.c.del(keys);
  }

  /** Checkpoint sequence numbers present, newest first. */
  private async seqs(): Promise<number[]> {
    const seqs: number[] = [];
    const re = new RegExp(`^${escapeRe(this.opts.prefix)}:ckpt:(\\d+)$`);
    for await (const batch of this.c.scanIterator({ MATCH: this.k('ckpt:*'), COUNT: 100 })) {
      for (const key of [batch].flat() as string[]) {
        const m = re.exec(key);
        if (m) seqs.push(Number(m[1]));
      }
    }
    return seqs.sort((a, b) => b - a);
  }

  async heartbeat(worker: RegisteredWorker, ttlMs: number): Promise<void> {
    await this.c.set(this.k(`worker:${worker.id}`), JSON.stringify(worker), { expiration: { type: 'PX', value: Math.max(1, Math.round(ttlMs)) } });
  }

  async removeWorker(id: string): Promise<void> {
    await this.c.del(this.k(`worker:${id}`));
  }

  async liveWorkers(): Promise<RegisteredWorker[]> {
    const keys: string[] = [];
    for await (const batch of this.c.scanIterator({ MATCH: this.k('worker:*'), COUNT: 100 })) keys.push(...([batch].flat() as string[]));
    if (keys.length === 0) return [];
    const values = await this.c.mGet(keys);
    return values.filter((v): v is string => typeof v === 'string').map((v) => JSON.parse(v) as RegisteredWorker);
  }

  async lease(key: string, holder: string, ttlMs: number): Promise<void> {
    await this.c.set(this.k(`lease:${key}`), holder, { expiration: { type: 'PX', value: Math.max(1, Math.round(ttlMs)) } });
  }

  async releaseLease(key: string): Promise<void> {
    await this.c.del(this.k(`lease:${key}`));
  }

  async leaseHolder(key: string): Promise<string | null> {
    return this.c.get(this.k(`lease:${key}`));
  }

  async addCredit(workerId: string, applied: number, samples: number): Promise<void> {
    await this.c.multi().hIncrBy(this.k('credit:applied'), workerId, applied).hIncrBy(this.k('credit:samples'), workerId, samples).exec();
  }

  async credits(): Promise<Credit[]> {
    const [applied, samples] = await Promise.all([this.c.hGetAll(this.k('credit:applied')), this.c.hGetAll(this.k('credit:samples'))]);
    return Object.keys(applied).map((workerId) => ({ workerId, applied: Number(applied[workerId]), samples: Number(samples[workerId] ?? 0) }));
  }

  protected async writeMetrics(point: MetricsPoint): Promise<void> {
    await this.c.multi().rPush(this.k('metrics'), JSON.stringify(point)).lTrim(this.k('metrics'), -MAX_METRICS_POINTS, -1).exec();
  }

  protected async readMetrics(limit: number): Promise<MetricsPoint[]> {
    const rows = await this.c.lRange(this.k('metrics'), -limit, -1);
    return rows.map(parseMetricsPoint).filter((p): p is MetricsPoint => p !== null);
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The URL without its password, for logs and status. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return 'redis://(unparsable URL)';
  }
}

/** Whether a Redis server answers PING at `url` within `connectTimeoutMs` (tests and benches probe with it). */
export async function redisReachable(url: string, connectTimeoutMs = 1000): Promise<boolean> {
  const s = new RedisStateStore({ url, connectTimeoutMs });
  try {
    await s.open();
    return await s.ping();
  } catch {
    return false;
  } finally {
    await s.close();
  }
}
