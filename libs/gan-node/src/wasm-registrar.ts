import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';
import { browserRegistrars } from '@duel/gan';

const require = createRequire(import.meta.url);

/**
 * tfjs-backend-wasm in Node: point it at the .wasm binaries in its own package
 * (bundlers and other cwds break its default lookup), then the shared
 * registrar registers duel's extra wasm kernels.
 */
export async function registerNodeWasm(): Promise<boolean> {
  let dir: string;
  try {
    dir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  } catch {
    throw new Error('@tensorflow/tfjs-backend-wasm is not installed');
  }
  return browserRegistrars({ wasmPaths: dir + sep }).wasm!();
}
