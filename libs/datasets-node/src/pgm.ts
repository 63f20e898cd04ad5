import { DuelError, ErrorCodes } from '@duel/util';

export interface PgmImage {
  width: number;
  height: number;
  /** Gray levels rescaled to 0..255, [height, width] row-major. */
  pixels: Uint8Array;
}

const isSpace = (b: number) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;

/**
 * Parses a binary 8-bit PGM (Netpbm "P5", maxval 1..255), one image per file.
 * Header comments (# to end of line) are allowed. Levels are rescaled to 0..255
 * when maxval < 255. Plain "P2" and 16-bit (maxval > 255) files are rejected.
 * @throws DuelError DUEL_ERR_DATASET_CORRUPT with the reason.
 */
export function parsePgm(bytes: Uint8Array, what = 'PGM data'): PgmImage {
  const bad = (msg: string) => new DuelError(ErrorCodes.DATASET_CORRUPT, `${what}: ${msg}`);
  if (bytes.length < 2 || bytes[0] !== 0x50 /* P */) throw bad('not a PGM file (no "P" magic)');
  if (bytes[1] !== 0x35 /* 5 */) {
    throw bad(`Netpbm type P${String.fromCharCode(bytes[1])} is not supported; only binary grayscale P5`);
  }
  let at = 2;
  const header: number[] = [];
  while (header.length < 3) {
    while (at < bytes.length && isSpace(bytes[at])) at++;
    if (bytes[at] === 0x23 /* # */) {
      while (at < bytes.length && bytes[at] !== 0x0a && bytes[at] !== 0x0d) at++;
      continue;
    }
    const start = at;
    while (at < bytes.length && bytes[at] >= 0x30 && bytes[at] <= 0x39) at++;
    if (at === start) throw bad('truncated or malformed header');
    header.push(Number(new TextDecoder().decode(bytes.subarray(start, at))));
  }
  // Exactly one whitespace byte separates maxval from the raster.
  if (at >= bytes.length || !isSpace(bytes[at])) throw bad('truncated header');
  at++;
  const [width, height, maxval] = header;
  if (width < 1 || height < 1) throw bad(`bad size ${width}×${height}`);
  if (maxval < 1 || maxval > 255) throw bad(`maxval ${maxval} is not supported; only 8-bit (1..255)`);
  const n = width * height;
  if (bytes.length - at < n) throw bad(`truncated raster: ${bytes.length - at} of ${n} bytes`);
  const pixels = bytes.slice(at, at + n);
  if (maxval !== 255) {
    for (let i = 0; i < n; i++) pixels[i] = Math.round((Math.min(pixels[i], maxval) * 255) / maxval);
  }
  return { width, height, pixels };
}

/** Encodes an 8-bit P5 PGM (for fixtures and sample dumps). */
export function encodePgm(width: number, height: number, pixels: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(`P5\n${width} ${height}\n255\n`);
  const out = new Uint8Array(head.length + width * height);
  out.set(head);
  out.set(pixels.subarray(0, width * height), head.length);
  return out;
}
