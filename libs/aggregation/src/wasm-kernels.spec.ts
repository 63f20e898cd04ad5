import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import wabtInit from 'wabt';
import { ADAM_KERNEL_WASM_BASE64 } from './adam-kernel.wasm';
import { MEAN_KERNEL_WASM_BASE64 } from './mean-kernel.wasm';

/** Each generated `<name>.wasm.ts` and the constant in it. */
const KERNELS: [name: string, base64: string][] = [
  ['adam-kernel', ADAM_KERNEL_WASM_BASE64],
  ['mean-kernel', MEAN_KERNEL_WASM_BASE64],
];

describe('the generated wasm modules', () => {
  it.each(KERNELS)('%s.wasm.ts holds the bytes %s.wat assembles to (regenerate with tools/wasm/build-kernels.ts)', async (name, base64) => {
    const wabt = await wabtInit();
    const mod = wabt.parseWat(`${name}.wat`, readFileSync(resolve(__dirname, `${name}.wat`), 'utf8'), { simd: true });
    try {
      mod.validate();
      const assembled = Buffer.from(mod.toBinary({ log: false, write_debug_names: false }).buffer);
      expect(Buffer.from(base64, 'base64').equals(assembled)).toBe(true);
    } finally {
      mod.destroy();
    }
  });
});
