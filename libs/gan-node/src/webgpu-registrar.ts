import { existsSync } from 'node:fs';
import { browserRegistrars, navigatorGpu, tf } from '@duel/gan';

/**
 * WebGPU in Node through Dawn (the npm `webgpu` package): install its globals
 * (GPUBufferUsage, …) and navigator.gpu, then the browser registrar asks for
 * an adapter (with a timeout) and imports tfjs-backend-webgpu, which registers
 * itself only when navigator.gpu exists at import time.
 */

/** Vulkan ICDs we know of; the lent GPU machine keeps NVIDIA's here (SYSTEM.md). */
const KNOWN_VULKAN_ICDS = ['/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json'];

export interface NodeWebGpuOptions {
  /** Dawn options for create(), e.g. ['backend=vulkan'] or ['adapter=NAME']. */
  dawnFlags?: string[];
  adapterTimeoutMs?: number;
}

let installedByUs = false;

/** Points the Vulkan loader at a known ICD when the environment names none. */
function defaultVulkanIcd(): void {
  if (process.env['VK_DRIVER_FILES'] || process.env['VK_ICD_FILENAMES']) return;
  const icd = KNOWN_VULKAN_ICDS.find((f) => existsSync(f));
  if (icd) process.env['VK_DRIVER_FILES'] = icd;
}

/** Makes navigator.gpu exist (Dawn); a no-op where it already does. */
export async function installNodeWebGpu(dawnFlags: string[] = []): Promise<void> {
  if (navigatorGpu()) return;
  defaultVulkanIcd();
  let dawn: typeof import('webgpu');
  try {
    dawn = await import('webgpu');
  } catch (e) {
    throw new Error(`the webgpu package (Dawn) failed to load: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create(dawnFlags);
  const g = globalThis as { navigator?: object };
  if (g.navigator) {
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  } else {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
  installedByUs = true;
}

/**
 * Lets the process exit: Dawn keeps Node alive while navigator.gpu or a device
 * is referenced (webgpu README, "Lifetime"). Removes tfjs's webgpu backend
 * (destroying its device) and the navigator.gpu we installed.
 */
export function releaseNodeWebGpu(): void {
  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  if (!installedByUs) return;
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (nav) delete nav.gpu;
  installedByUs = false;
}

/** Registers 'webgpu' on Dawn; on failure leaves nothing installed that would keep Node alive. */
export async function registerNodeWebGpu(opts: NodeWebGpuOptions = {}): Promise<boolean> {
  await installNodeWebGpu(opts.dawnFlags);
  try {
    return await browserRegistrars({ adapterTimeoutMs: opts.adapterTimeoutMs }).webgpu!();
  } catch (e) {
    releaseNodeWebGpu();
    throw e;
  }
}
