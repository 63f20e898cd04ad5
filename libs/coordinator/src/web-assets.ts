import { Logger, type INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { resolve } from 'node:path';

/** Where `npm run build:web` (Vite) writes apps/web; DUEL_WEB_DIR overrides it. */
export function webDistDir(): string {
  return process.env['DUEL_WEB_DIR'] ?? resolve(__dirname, '../../../dist/apps/web');
}

export function webBuilt(dir = webDistDir()): boolean {
  return existsSync(resolve(dir, 'index.html')) && existsSync(resolve(dir, 'volunteer.html'));
}

/**
 * Cross-origin isolation (COOP same-origin + COEP require-corp): without it
 * browsers give no SharedArrayBuffer, and tfjs-backend-wasm runs on one
 * thread (SYSTEM.md: wasm with threads, D 206 ms / G 510 ms per step).
 * Every response gets the headers, so pages, scripts, the Web Worker and the
 * .wasm files all qualify.
 */
export function isolationHeaders(res: Pick<ServerResponse, 'setHeader'>): void {
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

/**
 * Serves the built pages' assets (/assets/*, /wasm/*) from the Vite output,
 * cross-origin isolated. The pages themselves (/ and /volunteer) are routes of
 * WebController, so a missing build answers with a clear error instead of 404.
 */
export function serveWebAssets(app: INestApplication, dir = webDistDir()): void {
  if (!webBuilt(dir)) new Logger('Web').warn(`no built pages in ${dir}: / and /volunteer answer 503 until \`npm run build:web\` runs`);
  app.use((_req: unknown, res: ServerResponse, next: () => void) => {
    isolationHeaders(res);
    next();
  });
  (app as NestExpressApplication).useStaticAssets(dir, {
    index: false,
    fallthrough: true,
    // Hashed file names under /assets never change; the rest (.wasm) revalidates.
    setHeaders: (res, path) => res.setHeader('Cache-Control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'),
  });
}
