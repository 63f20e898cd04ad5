import { describe, expect, it } from 'vitest';
import { encodePgm, parsePgm } from './pgm';

const ascii = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

describe('parsePgm', () => {
  it('round-trips encodePgm', () => {
    const px = Uint8Array.from({ length: 6 }, (_, i) => i * 40);
    expect(parsePgm(encodePgm(3, 2, px))).toEqual({ width: 3, height: 2, pixels: px });
  });

  it('skips header comments and rescales maxval < 255', () => {
    const im = parsePgm(cat(ascii('P5 # made by hand\n2 1\n# levels\n15\n'), Uint8Array.of(0, 15)));
    expect(im.width).toBe(2);
    expect(Array.from(im.pixels)).toEqual([0, 255]);
  });

  it('takes a raster byte that looks like whitespace as data', () => {
    expect(Array.from(parsePgm(cat(ascii('P5\n2 1\n255\n'), Uint8Array.of(0x0a, 0x20))).pixels)).toEqual([10, 32]);
  });

  it.each([
    ['a PNG', Uint8Array.of(0x89, 0x50, 0x4e, 0x47), /no "P" magic/],
    ['plain P2', ascii('P2\n1 1\n255\n0\n'), /P2 is not supported/],
    ['16-bit', cat(ascii('P5\n1 1\n65535\n'), Uint8Array.of(0, 0)), /maxval 65535/],
    ['a truncated raster', cat(ascii('P5\n2 2\n255\n'), Uint8Array.of(1, 2, 3)), /truncated raster: 3 of 4/],
    ['a truncated header', ascii('P5\n2 '), /truncated/],
  ])('rejects %s with DATASET_CORRUPT', (_w, bytes, msg) => {
    expect(() => parsePgm(bytes, 'x.pgm')).toThrow(/DUEL_ERR_DATASET_CORRUPT: x\.pgm/);
    expect(() => parsePgm(bytes, 'x.pgm')).toThrow(msg);
  });
});
