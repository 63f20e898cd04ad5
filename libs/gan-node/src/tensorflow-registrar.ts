import { createRequire } from 'node:module';

/**
 * tfjs-node(-gpu) binds libtensorflow, which its install script downloads from
 * a host that is unreachable here (SYSTEM.md); npm then drops the optional
 * dependency and `require` throws MODULE_NOT_FOUND. Loading is therefore tried
 * at run time, GPU build first, and every failure becomes a readable reason.
 */
const PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

const require = createRequire(import.meta.url);
let loaded: (typeof PACKAGES)[number] | undefined;

/** Which tfjs-node package registered the 'tensorflow' backend, if any. */
export function loadedTensorflowPackage(): string | undefined {
  return loaded;
}

/** Registers the 'tensorflow' backend (libtensorflow); throws why not. */
export async function registerTensorflow(): Promise<boolean> {
  if (loaded) return true;
  const reasons: string[] = [];
  for (const pkg of PACKAGES) {
    try {
      require.resolve(pkg);
    } catch {
      reasons.push(`${pkg} is not installed`);
      continue;
    }
    try {
      // tfjs-node registers the 'tensorflow' backend on load; tfjs-core keeps
      // one engine per process (globalThis._tfengine), so ours sees it.
      require(pkg);
      loaded = pkg;
      return true;
    } catch (e) {
      // e.g. CUDA 11.2 / cuDNN 8 libraries missing for tfjs-node-gpu.
      reasons.push(`${pkg} is installed but failed to load: ${firstLine(e)}`);
    }
  }
  throw new Error(reasons.join('; '));
}

export function describeTensorflow(): string {
  return loaded === '@tensorflow/tfjs-node-gpu' ? 'tensorflow (libtensorflow, CUDA)' : 'tensorflow (libtensorflow, CPU)';
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}
