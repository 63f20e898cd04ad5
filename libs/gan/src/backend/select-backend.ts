import { DuelError, ErrorCodes } from '@duel/util';
import { tf } from '../tf';
import { BROWSER_AUTO_ORDER, browserDescribers, browserRegistrars, type BrowserBackendOptions } from './browser-registrars';
import { verifyBackend } from './verify-backend';

export const BACKEND_NAMES = ['auto', 'tensorflow', 'webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type ConcreteBackendName = Exclude<BackendName, 'auto'>;

/**
 * How a platform makes each backend available: register it with tfjs-core so
 * that `tf.setBackend(name)` can work. Resolves true when registered; resolves
 * false or throws (the message is the reason shown to the user) when this
 * platform cannot have it. Node extends the browser's map (see @duel/gan-node).
 */
export type BackendRegistrar = Partial<Record<ConcreteBackendName, () => Promise<boolean>>>;

/** Describes the device behind the active backend, e.g. 'wasm (simd, 4 threads)'. */
export type DeviceDescribers = Partial<Record<ConcreteBackendName, () => Promise<string> | string>>;

export interface SelectBackendOptions extends BrowserBackendOptions {
  /** Registrars merged over the browser defaults, per name. */
  registrars?: BackendRegistrar;
  describers?: DeviceDescribers;
  /** Preference order for 'auto', fastest first. Default: webgpu → webgl → wasm → cpu. */
  order?: readonly ConcreteBackendName[];
  /** Limit for each of registering and initialising one backend (a GPU adapter request can hang). */
  timeoutMs?: number;
}

export interface BackendAttempt {
  name: ConcreteBackendName;
  ok: boolean;
  error?: string;
}

export interface SelectedBackend {
  name: ConcreteBackendName;
  device: string;
  /** Why this one: explicit request, or auto's order and what it skipped. */
  reason: string;
  tried: BackendAttempt[];
}

const DEFAULT_TIMEOUT_MS = 15_000;

export function isBackendName(s: string): s is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(s);
}

/**
 * Makes `pref` the active tfjs backend, or for 'auto' the first in `order`
 * that registers, initialises and passes verifyBackend. On failure the
 * previously active backend is restored and DUEL_ERR_BACKEND_UNAVAILABLE says
 * why each candidate failed (details.tried). Leaves tf.memory().numTensors
 * unchanged.
 */
export async function selectBackend(pref: BackendName, opts: SelectBackendOptions = {}): Promise<SelectedBackend> {
  if (!isBackendName(pref)) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `unknown backend '${String(pref)}'; expected one of ${BACKEND_NAMES.join(', ')}`);
  }
  const registrars: BackendRegistrar = { ...browserRegistrars(opts), ...opts.registrars };
  const describers: DeviceDescribers = { ...browserDescribers(), ...opts.describers };
  const order = opts.order ?? BROWSER_AUTO_ORDER;
  const candidates = pref === 'auto' ? order : [pref];
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const previous = tf.getBackend() as string | undefined;
  const tried: BackendAttempt[] = [];

  for (const name of candidates) {
    try {
      await activate(name, registrars[name], timeoutMs);
      tried.push({ name, ok: true });
      const describe = describers[name];
      const device = describe ? await describe() : name;
      return { name, device, reason: explain(pref, name, order, tried), tried };
    } catch (e) {
      tried.push({ name, ok: false, error: errorMessage(e) });
    }
  }

  // Leave tfjs usable: the backend we found, else cpu (a failed setBackend leaves none active).
  const restore = previous || (tf.findBackendFactory('cpu') ? 'cpu' : undefined);
  if (restore) await tf.setBackend(restore).catch(() => false);
  const why = tried.map((t) => `${t.name}: ${t.error}`).join('; ');
  const message = pref === 'auto' ? `no backend works here (${why})` : `backend '${pref}' is unavailable: ${tried[0].error}`;
  throw new DuelError(ErrorCodes.BACKEND_UNAVAILABLE, message, { tried });
}

/** Registers, initialises and verifies one backend; throws with the reason. */
async function activate(name: ConcreteBackendName, register: (() => Promise<boolean>) | undefined, timeoutMs: number): Promise<void> {
  if (!register) throw new Error('not available on this platform');
  if (!(await withTimeout(register(), timeoutMs, 'registration'))) throw new Error('not available on this platform');
  if (tf.findBackendFactory(name) == null) throw new Error(`its registrar did not register '${name}' with tfjs`);
  let ok: boolean;
  try {
    ok = await withTimeout(tf.setBackend(name), timeoutMs, 'initialisation');
  } catch (e) {
    // A hung init would keep tfjs waiting for it forever; removing the backend
    // makes that pending init obsolete (tfjs-core Engine.removeBackend).
    tf.removeBackend(name);
    throw e;
  }
  if (!ok) throw new Error(`tf.setBackend('${name}') failed to initialise it (tfjs logged the cause)`);
  await verifyBackend();
}

function explain(pref: BackendName, name: ConcreteBackendName, order: readonly ConcreteBackendName[], tried: BackendAttempt[]): string {
  if (pref !== 'auto') return `'${name}' was requested explicitly`;
  const skipped = tried.filter((t) => !t.ok).map((t) => `${t.name} (${t.error})`);
  const head = `auto picked '${name}', the first that works in the order ${order.join(' → ')}`;
  return skipped.length ? `${head}; skipped ${skipped.join(', ')}` : head;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Rejects after `ms` so that a hung GPU request becomes a clean fallback. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
