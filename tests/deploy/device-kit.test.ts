import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/kustomize';

interface Cell {
  backend: string;
  model: string;
  batch: number;
  micro: number | null;
  workingMiB: number;
  ms: number;
  imgPerSec: number;
  readbackMs: number;
  note: string;
}

/**
 * tools/device: the kit that takes the GPU worker bench to a lent device
 * machine, which has no npm. Built here without Node and the loaders (those
 * are copies), outside the repository, so that nothing the bundle needs can
 * come from the repository's node_modules; then run on the wasm backend.
 */
describe('tools/device kit (the GPU worker bench, built and run on the CPU)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'duel-kit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('bundles, runs outside the repository with run.sh and writes its table', () => {
    const kit = join(dir, '.device', 'kit');
    execFileSync('bash', [join(REPO_ROOT, 'tools/device/build-kit.sh'), '--out', kit, '--no-node', '--no-gl'], { cwd: REPO_ROOT, stdio: 'pipe', timeout: 120_000 });
    for (const f of ['gpu-bench.mjs', 'COMMIT', 'node_modules/webgpu/dist/linux-x64/dawn.node.xz', 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm']) {
      expect(existsSync(join(kit, f)), f).toBe(true);
    }
    // run.sh works from the tree it is carried in: give it one with the kit beside it.
    execFileSync('cp', ['--parents', 'tools/device/run.sh', dir], { cwd: REPO_ROOT });
    const out = join(dir, 'out');
    const r = spawnSync('bash', [join(dir, 'tools/device/run.sh'), '--backends', 'webgpu,wasm', '--models', 'mlp2d', '--batches', '64', '--micro', '32', '--budget-ms', '100'], {
      cwd: dir,
      env: { ...process.env, OUT: out },
      encoding: 'utf8',
      timeout: 180_000,
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    // Dawn's addon was unpacked and loaded: webgpu either ran or found no adapter, not "failed to load".
    expect(existsSync(join(kit, 'node_modules/webgpu/dist/linux-x64/dawn.node'))).toBe(true);
    const { cells } = JSON.parse(readFileSync(join(out, 'gpu-bench.json'), 'utf8')) as { cells: Cell[] };
    const webgpu = cells.find((c) => c.backend === 'webgpu')!;
    expect(webgpu.note).not.toMatch(/failed to load/);
    const wasm = cells.find((c) => c.backend === 'wasm' && c.model === 'mlp2d' && c.batch === 64 && c.micro === null)!;
    // The same batch again in micro-batches of 32: less working memory on the backend.
    const micro = cells.find((c) => c.backend === 'wasm' && c.model === 'mlp2d' && c.batch === 64 && c.micro === 32)!;
    expect(micro.ms).toBeGreaterThan(0);
    expect(micro.workingMiB).toBeGreaterThan(0);
    expect(micro.workingMiB).toBeLessThan(wasm.workingMiB);
    expect(wasm.note).toBe('');
    expect(wasm.ms).toBeGreaterThan(0);
    expect(wasm.imgPerSec).toBeCloseTo((3 * 64 * 1000) / wasm.ms, 6);
    expect(wasm.readbackMs).toBeGreaterThanOrEqual(0);
    const md = readFileSync(join(out, 'gpu-bench.md'), 'utf8');
    expect(md).toMatch(/^\| wasm \| mlp2d \| 64 \| whole \| \d/m);
    expect(md).toMatch(/^\| wasm \| mlp2d \| 64 \| 2 × 32 \| \d/m);
    expect(md).toContain(`commit ${readFileSync(join(kit, 'COMMIT'), 'utf8').trim()}`);
  }, 300_000);
});
