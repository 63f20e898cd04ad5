import { DuelError, ErrorCodes } from '@duel/util';
import { isPlainObject } from './plain-json';

/**
 * Reads typed fields out of an untrusted object. Only own properties are read,
 * so nothing comes from a (polluted or not) prototype; every failure is a
 * BAD_FRAME naming the field path. Validators copy what they read into fresh
 * objects, so unknown fields are dropped, never passed on.
 */
export class FieldReader {
  private constructor(
    private readonly source: Record<string, unknown>,
    readonly path: string,
  ) {}

  static of(raw: unknown, path: string): FieldReader {
    if (!isPlainObject(raw)) throw new DuelError(ErrorCodes.BAD_FRAME, `${path}: expected an object`);
    return new FieldReader(raw, path);
  }

  fail(key: string, why: string): DuelError {
    return new DuelError(ErrorCodes.BAD_FRAME, `${this.path}.${key}: ${why}`);
  }

  has(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.source, key) && this.source[key] !== undefined && this.source[key] !== null;
  }

  raw(key: string): unknown {
    return Object.prototype.hasOwnProperty.call(this.source, key) ? this.source[key] : undefined;
  }

  /** A string of 1..max UTF-16 units (min 0 when allowEmpty), optionally matching a pattern. */
  str(key: string, max: number, opts: { allowEmpty?: boolean; pattern?: RegExp } = {}): string {
    const v = this.raw(key);
    if (typeof v !== 'string') throw this.fail(key, 'expected a string');
    if (v.length > max) throw this.fail(key, `longer than ${max}`);
    if (!opts.allowEmpty && v.length === 0) throw this.fail(key, 'must not be empty');
    if (opts.pattern && !opts.pattern.test(v)) throw this.fail(key, `does not match ${opts.pattern}`);
    return v;
  }

  /** A safe integer in [min, max]. */
  int(key: string, min: number, max: number): number {
    const v = this.raw(key);
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw this.fail(key, 'expected an integer');
    if (v < min || v > max) throw this.fail(key, `out of range [${min}, ${max}]`);
    return v;
  }

  /** A finite number in [min, max]. */
  num(key: string, min = -Number.MAX_VALUE, max = Number.MAX_VALUE): number {
    const v = this.raw(key);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.fail(key, 'expected a finite number');
    if (v < min || v > max) throw this.fail(key, `out of range [${min}, ${max}]`);
    return v;
  }

  bool(key: string): boolean {
    const v = this.raw(key);
    if (typeof v !== 'boolean') throw this.fail(key, 'expected a boolean');
    return v;
  }

  oneOf<T extends string>(key: string, values: readonly T[]): T {
    const v = this.raw(key);
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      throw this.fail(key, `expected one of ${values.join('|')}`);
    }
    return v as T;
  }

  obj(key: string): FieldReader {
    return FieldReader.of(this.raw(key), `${this.path}.${key}`);
  }

  arr(key: string, maxLength: number): unknown[] {
    const v = this.raw(key);
    if (!Array.isArray(v)) throw this.fail(key, 'expected an array');
    if (v.length > maxLength) throw this.fail(key, `more than ${maxLength} entries`);
    return v;
  }
}
