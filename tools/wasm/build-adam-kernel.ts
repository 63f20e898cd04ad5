/**
 * Assembles libs/aggregation/src/adam-kernel.wat with wabt (a devDependency)
 * and writes the bytes, base64, into adam-kernel.wasm.ts beside it, so the
 * shared lib carries its wasm without fs or a bundler plugin:
 *
 *   node --import tsx tools/wasm/build-adam-kernel.ts          # regenerate
 *   node --import tsx tools/wasm/build-adam-kernel.ts --check  # exit 1 when stale
 *
 * The aggregation spec runs the same check, so an edit of the .wat without a
 * regeneration fails the unit tests.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { adamKernelModuleSource, assembleAdamKernel } from './assemble';

const OUT = resolve(__dirname, '../../libs/aggregation/src/adam-kernel.wasm.ts');

async function main(): Promise<void> {
  const bytes = await assembleAdamKernel();
  const text = adamKernelModuleSource(bytes);
  if (process.argv.includes('--check')) {
    const same = readFileSync(OUT, 'utf8') === text;
    console.log(same ? `${OUT} is up to date (${bytes.length} bytes)` : `${OUT} is stale: run this script without --check`);
    process.exit(same ? 0 : 1);
  }
  writeFileSync(OUT, text);
  console.log(`wrote ${OUT} (${bytes.length} bytes of wasm)`);
}

void main();
