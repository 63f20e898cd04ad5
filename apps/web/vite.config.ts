import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

const root = resolve(__dirname, '../..');

// The same "@duel/<lib>" aliases as tsconfig.base.json (and vitest.config.ts).
const base = JSON.parse(readFileSync(resolve(root, 'tsconfig.base.json'), 'utf8'));
const alias = Object.fromEntries(
  Object.entries(base.compilerOptions.paths as Record<string, string[]>).map(([k, v]) => [k, resolve(root, v[0])]),
);

/** Ships tfjs-backend-wasm's .wasm binaries as /wasm/<name> (the pages call setWasmPaths('/wasm/')). */
function tfjsWasmFiles(): Plugin {
  const dir = resolve(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  return {
    name: 'duel-tfjs-wasm-files',
    generateBundle() {
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.wasm'))) {
        this.emitFile({ type: 'asset', fileName: `wasm/${f}`, source: readFileSync(resolve(dir, f)) });
      }
    },
  };
}

/** apps/web: the dashboard (index.html, served at /) and the volunteer page (volunteer.html, served at /volunteer). */
export default defineConfig({
  root: __dirname,
  base: '/',
  resolve: { alias },
  plugins: [tfjsWasmFiles()],
  worker: { format: 'es' },
  build: {
    outDir: resolve(root, 'dist/apps/web'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    reportCompressedSize: false,
    rollupOptions: {
      input: { index: resolve(__dirname, 'index.html'), volunteer: resolve(__dirname, 'volunteer.html') },
    },
  },
});
