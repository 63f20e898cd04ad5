import { DuelError, ErrorCodes } from '@duel/util';
import type { JsonObject, JsonValue } from './frames';

/**
 * Keys refused anywhere in a header. msgpackr already renames `__proto__` to
 * `__proto_` when it builds objects, but maps decode as `Map`s here and
 * in-memory frames (postMessage) never went through msgpackr, so we refuse the
 * prototype-pollution keys ourselves instead of trusting one decoder path.
 */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export interface JsonBounds {
  maxJsonDepth: number;
  maxJsonNodes: number;
}

export interface PlainJsonOptions {
  /** Let NaN/±Inf through for the schema to judge (a NaN loss is NON_FINITE, not a malformed frame). */
  allowNonFinite?: boolean;
}

function bad(path: string, why: string): DuelError {
  return new DuelError(ErrorCodes.BAD_FRAME, `${path}: ${why}`);
}

/** True for `{}`-literals, `Object.create(null)` objects and msgpackr records; false for arrays, Maps, class instances. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function entriesOf(v: Map<unknown, unknown> | Record<string, unknown>, path: () => string): [string, unknown][] {
  const out: [string, unknown][] = [];
  if (v instanceof Map) {
    for (const [k, val] of v) {
      if (typeof k !== 'string') throw bad(path(), 'map keys must be strings');
      out.push([k, val]);
    }
  } else {
    for (const k of Object.keys(v)) out.push([k, v[k]]);
  }
  return out;
}

/**
 * Deep-copies a decoded msgpack value (or an in-memory value) into plain JSON:
 * `Map`s with string keys and plain objects become fresh `{}` objects, arrays
 * stay arrays, scalars must be null, booleans, finite numbers (unless
 * `allowNonFinite`) or strings.
 * Anything else (bigint, bin, typed arrays, Date, Set, RegExp, Error, undefined,
 * functions, cycles via depth) is a BAD_FRAME. Never throws anything else.
 */
export function toPlainJson(v: unknown, bounds: JsonBounds, path = 'header', opts: PlainJsonOptions = {}): JsonValue {
  let nodes = 0;
  // The path of the value being walked: array indices and object keys, formatted ("[3]", ".k") only
  // when a value is refused, so a valid header (every frame) builds no path strings.
  const at: (number | string)[] = [];
  const where = () => path + at.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p.slice(0, 64)}`)).join('');
  const walk = (x: unknown, depth: number): JsonValue => {
    if (++nodes > bounds.maxJsonNodes) throw bad(where(), `more than ${bounds.maxJsonNodes} values`);
    if (x === null || typeof x === 'string' || typeof x === 'boolean') return x;
    if (typeof x === 'number') {
      if (!opts.allowNonFinite && !Number.isFinite(x)) throw bad(where(), 'numbers must be finite');
      return x;
    }
    if (typeof x !== 'object') throw bad(where(), `unsupported value of type ${typeof x}`);
    if (depth >= bounds.maxJsonDepth) throw bad(where(), `nested deeper than ${bounds.maxJsonDepth}`);
    if (Array.isArray(x)) {
      const arr: JsonValue[] = new Array(x.length);
      for (let i = 0; i < x.length; i++) {
        at.push(i);
        arr[i] = walk(x[i], depth + 1);
        at.pop();
      }
      return arr;
    }
    if (!(x instanceof Map) && !isPlainObject(x)) throw bad(where(), 'unsupported object type');
    const obj: JsonObject = {};
    for (const [k, val] of entriesOf(x as Map<unknown, unknown> | Record<string, unknown>, where)) {
      if (FORBIDDEN_KEYS.has(k)) throw bad(where(), `forbidden key ${JSON.stringify(k)}`);
      if (Object.prototype.hasOwnProperty.call(obj, k)) throw bad(where(), `duplicate key ${JSON.stringify(k)}`);
      at.push(k);
      obj[k] = walk(val, depth + 1);
      at.pop();
    }
    return obj;
  };
  return walk(v, 0);
}
