import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '@duel/util';
import { toPlainJson } from './plain-json';

const bounds = { maxJsonDepth: 8, maxJsonNodes: 100 };
const refusal = (v: unknown, opts = {}) => {
  try {
    toPlainJson(v, bounds, 'header', opts);
  } catch (e) {
    return { code: (e as { code?: string }).code, message: (e as Error).message.replace(/^DUEL_ERR_BAD_FRAME: /, '') };
  }
  throw new Error('not refused');
};

describe('toPlainJson', () => {
  it('copies Maps and plain objects into fresh plain objects', () => {
    const src = new Map<string, unknown>([['a', [1, 'x', null, { b: true }]]]);
    expect(toPlainJson(src, bounds)).toEqual({ a: [1, 'x', null, { b: true }] });
  });

  it('names the path of a refused value, through arrays, objects and Maps', () => {
    expect(refusal({ a: [1, { b: Number.NaN }] })).toEqual({ code: ErrorCodes.BAD_FRAME, message: 'header.a[1].b: numbers must be finite' });
    expect(refusal(new Map<unknown, unknown>([['m', new Map([[1, 2]])]]))).toEqual({ code: ErrorCodes.BAD_FRAME, message: 'header.m: map keys must be strings' });
    expect(refusal({ list: [0, 1, 2n] }).message).toBe('header.list[2]: unsupported value of type bigint');
    expect(refusal(JSON.parse('{"x":{"__proto__":1}}')).message).toBe('header.x: forbidden key "__proto__"');
    // A long key is cut to 64 characters in the path.
    expect(refusal({ ['k'.repeat(100)]: new Date(0) }).message).toBe(`header.${'k'.repeat(64)}: unsupported object type`);
  });

  it('lets NaN through when allowed, and enforces the depth and node bounds', () => {
    expect(toPlainJson({ loss: Number.NaN }, bounds, 'header', { allowNonFinite: true })).toEqual({ loss: Number.NaN });
    let deep: unknown = 1;
    for (let i = 0; i < 9; i++) deep = [deep];
    expect(refusal(deep).message).toBe('header[0][0][0][0][0][0][0][0]: nested deeper than 8');
    expect(refusal(new Array(200).fill(0)).message).toBe('header[99]: more than 100 values');
  });
});
