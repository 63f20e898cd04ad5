/**
 * Assembles the WebAssembly kernels of libs/aggregation (adam-kernel.wat,
 * mean-kernel.wat) with wabt (a devDependency) and writes each one's bytes,
 * base64, into `<name>.wasm.ts` beside it, so the shared lib carries its wasm
 * without fs or a bundler plugin:
 *
 *   node --import tsx tools/wasm/build-kernels.ts          # regenerate
 *   node --import tsx tools/wasm/build-kernels.ts --check  # exit 1 when one is stale
 *
 * The aggregation spec (wasm-kernels.spec.ts) runs the same check, so an edit
 * of a .wat without a regeneration fails the unit tests.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { assemble, KERNELS, modulePath, moduleSource } from './assemble';

async function main(): Promise<void> {
  let stale = 0;
  for (const k of KERNELS) {
    const bytes = await assemble(k);
    const text = moduleSource(k, bytes);
    const out = modulePath(k);
    if (!process.argv.includes('--check')) {
      writeFileSync(out, text);
      console.log(`wrote ${out} (${bytes.length} bytes of wasm)`);
    } else if (readFileSync(out, 'utf8') === text) console.log(`${out} is up to date (${bytes.length} bytes)`);
    else {
      stale++;
      console.log(`${out} is stale: run this script without --check`);
    }
  }
  process.exit(stale ? 1 : 0);
}

void main();
