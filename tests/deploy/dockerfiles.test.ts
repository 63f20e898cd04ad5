import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deployContext, lintDockerfile } from './support/dockerfile-lint';
import { REPO_ROOT } from './support/kustomize';

const DEPLOY = join(REPO_ROOT, 'deploy');
const DOCKERFILES = readdirSync(DEPLOY).filter((f) => /^Dockerfile\.[\w-]+$/.test(f));

/** The Dockerfiles cannot be built here (no Docker engine): they are parsed and linted instead. */
describe('deploy/ Dockerfiles (lint; not built in CI)', () => {
  it('are the three images of the issue', () => {
    expect(DOCKERFILES.sort()).toEqual(['Dockerfile.coordinator', 'Dockerfile.worker-cuda', 'Dockerfile.worker-webgpu']);
  });

  it.each(DOCKERFILES)('%s parses, copies only files that exist, runs as non-root, names its image', (name) => {
    const file = join(DEPLOY, name);
    const r = lintDockerfile(readFileSync(file, 'utf8'), deployContext(REPO_ROOT, file));
    expect(r.problems).toEqual([]);
    expect(r.stages.length).toBeGreaterThanOrEqual(2); // multi-stage: build tools stay out of the runtime image
    expect(r.imageName).toBe(`duel-${name.slice('Dockerfile.'.length)}`);
    expect(r.entrypoint?.slice(0, 2)).toEqual(['node', 'bin/duel.js']);
  });

  it('pins the bases the issue asks for: CUDA 11.2 + cuDNN 8, and Vulkan with the graphics capability', () => {
    const cuda = lintDockerfile(readFileSync(join(DEPLOY, 'Dockerfile.worker-cuda'), 'utf8'), deployContext(REPO_ROOT, join(DEPLOY, 'Dockerfile.worker-cuda')));
    expect(cuda.stages.at(-1)!.image).toMatch(/^nvidia\/cuda:11\.2\.\d+-cudnn8-runtime-/);
    const webgpuText = readFileSync(join(DEPLOY, 'Dockerfile.worker-webgpu'), 'utf8');
    const webgpu = lintDockerfile(webgpuText, deployContext(REPO_ROOT, join(DEPLOY, 'Dockerfile.worker-webgpu')));
    const final = webgpu.stages.at(-1)!.instructions.map((i) => `${i.getKeyword()} ${i.getArgumentsContent()}`).join('\n');
    expect(final).toMatch(/apt-get install[^\n]*libvulkan1/);
    expect(final).toMatch(/NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics/);
    expect(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).dependencies).toHaveProperty('webgpu');
  });

  it('reports every problem of a broken Dockerfile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'duel-lint-'));
    writeFileSync(join(dir, 'present.txt'), 'x');
    writeFileSync(join(dir, 'secret.env'), 'x');
    const broken = [
      'FROM node:20 AS build',
      'COPY present.txt missing.txt /app',
      'COPY secret.env ./',
      'COPY --from=nowhere /x /y',
      'RUN npm run no-such-script',
      'COPPY present.txt ./',
      'FROM ${UNDECLARED}',
      'USER root',
      'CMD node bin/duel.js',
    ].join('\n');
    const r = lintDockerfile(broken, { contextDir: dir, dockerignore: '*.env\n', npmScripts: ['test'] });
    const expected = [
      /line 2 \(COPY\): several sources need a directory destination/,
      /line 2 \(COPY\): source "missing.txt" does not exist/,
      /line 3 \(COPY\): source "secret.env" is excluded by .dockerignore/,
      /line 4 \(COPY\): --from=nowhere is neither an earlier stage nor an image/,
      /line 5 \(RUN\): npm script "no-such-script" does not exist/,
      /line 6 \(COPPY\): unknown instruction/,
      /line 7 \(FROM\): base image .* does not resolve/,
      /line 9 \(CMD\): use the exec \(JSON\) form/,
      /final stage: USER root is root/,
      /final stage: no LABEL io.duel.image/,
    ];
    for (const re of expected) expect(r.problems.some((p) => re.test(p)), `${re} in ${JSON.stringify(r.problems, null, 1)}`).toBe(true);
    expect(r.problems).toHaveLength(expected.length);
  });
});
