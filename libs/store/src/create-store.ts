import { MemoryStateStore } from './memory-state.store';
import { RedisStateStore } from './redis-state.store';
import type { StateStore } from './state-store';

export interface StoreSelection {
  /** REDIS_URL / --redis: use Redis. */
  redisUrl?: string;
  /** Key prefix in Redis (several runs on one Redis). */
  prefix?: string;
  /** DUEL_DATA_DIR / --data-dir: checkpoint files for the embedded store. */
  dataDir?: string;
}

/** Redis when a URL is given, else the embedded store (files under dataDir when given). Not opened yet. */
export function createStateStore(sel: StoreSelection): StateStore {
  if (sel.redisUrl) return new RedisStateStore({ url: sel.redisUrl, prefix: sel.prefix });
  return new MemoryStateStore({ dataDir: sel.dataDir });
}
