import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCoordinatorOptions, startCoordinator, type RunningCoordinator } from '@duel/coordinator';
import { resolveRunConfig } from '@duel/trainer';
import { deployContext, lintDockerfile, type LintResult } from './support/dockerfile-lint';
import { K8S_DIR, REPO_ROOT, podContainers, readManifests, render, splitImage, type Manifest } from './support/kustomize';
import { DUEL_BIN } from '../support/cli';
import { stopAll } from '../support/workers';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;
type Container = Obj & { name: string; image: string; args?: string[] };

const OVERLAYS = readdirSync(join(K8S_DIR, 'overlays'));
const rendered = new Map<string, Manifest[]>(OVERLAYS.map((o) => [o, render(join(K8S_DIR, 'overlays', o))]));
const GPU_OVERLAYS = OVERLAYS.filter((o) => o.startsWith('gpu-cluster'));

const DEPLOY = join(REPO_ROOT, 'deploy');
/** Each Dockerfile of deploy/ by the image name it builds (its LABEL io.duel.image). */
const dockerfiles = new Map<string, LintResult & { file: string }>();
for (const f of readdirSync(DEPLOY).filter((f) => /^Dockerfile\.[\w-]+$/.test(f))) {
  const r = lintDockerfile(readFileSync(join(DEPLOY, f), 'utf8'), deployContext(REPO_ROOT, join(DEPLOY, f)));
  dockerfiles.set(r.imageName!, { ...r, file: f });
}
/** Images from outside the project that the manifests may use. */
const THIRD_PARTY = new Set(['redis']);

const get = (o: string, kind: string, name: string): Obj => {
  const m = rendered.get(o)!.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`${o}: no ${kind}/${name}`);
  return m as Obj;
};
const containersOf = (o: string) => rendered.get(o)!.flatMap((m) => podContainers(m).map((c) => ({ m, c: c as Container })));
const flag = (args: string[] | undefined, name: string) => {
  const i = (args ?? []).indexOf(name);
  return i >= 0 ? args![i + 1] : undefined;
};
const imageBase = (image: string) => splitImage(image).name.split('/').at(-1)!;
/** Resolves a probe's port (a number or a container port name) to a number. */
const probePort = (c: Container, port: number | string) =>
  typeof port === 'number' ? port : (c.ports as Obj[] | undefined)?.find((p) => p.name === port)?.containerPort;

function probes(c: Container): { kind: string; path: string; port: number }[] {
  return (['startupProbe', 'livenessProbe', 'readinessProbe'] as const)
    .filter((k) => c[k]?.httpGet)
    .map((k) => ({ kind: k, path: c[k].httpGet.path as string, port: probePort(c, c[k].httpGet.port) as number }));
}

describe('k8s invariants', () => {
  it.each(GPU_OVERLAYS)('%s: the GPU worker asks for one nvidia.com/gpu, tolerates the GPU taint and selects GPU nodes', (o) => {
    const w = get(o, 'Deployment', 'duel-worker');
    const pod = w.spec.template.spec;
    const [c] = pod.containers;
    expect(c.resources.limits['nvidia.com/gpu']).toBe(1);
    expect(c.resources.requests['nvidia.com/gpu']).toBe(1);
    expect(pod.tolerations).toContainEqual(expect.objectContaining({ key: 'nvidia.com/gpu', effect: 'NoSchedule' }));
    expect(Object.keys(pod.nodeSelector ?? {}).some((k) => k.startsWith('nvidia.com/'))).toBe(true);
    expect(['tensorflow', 'webgpu']).toContain(flag(c.args, '--backend'));
    expect(w.spec.replicas).toBeGreaterThan(get('dev', 'Deployment', 'duel-worker').spec.replicas);
  });

  it('the dev overlay runs CPU workers without GPUs', () => {
    const [c] = get('dev', 'Deployment', 'duel-worker').spec.template.spec.containers;
    expect(c.resources.limits['nvidia.com/gpu']).toBeUndefined();
    expect(['wasm', 'cpu']).toContain(flag(c.args, '--backend'));
  });

  it.each(OVERLAYS)('%s: one coordinator (Recreate), Redis on a volume, selectors that select, a grace that covers the worker stop', (o) => {
    const coord = get(o, 'Deployment', 'duel-coordinator');
    expect(coord.spec.replicas).toBe(1);
    expect(coord.spec.strategy.type).toBe('Recreate');
    const redis = get(o, 'StatefulSet', 'duel-redis');
    expect(redis.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBeTruthy();
    expect(redis.spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(['--appendonly', 'yes']));

    const labelsMatch = (selector: Obj, labels: Obj) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    for (const name of ['duel-coordinator', 'duel-redis']) {
      const svc = get(o, 'Service', name);
      const target = rendered.get(o)!.find((m) => ['Deployment', 'StatefulSet'].includes(m.kind) && m.metadata.name === name) as Obj;
      expect(labelsMatch(svc.spec.selector, target.spec.template.metadata.labels)).toBe(true);
    }
    const worker = get(o, 'Deployment', 'duel-worker');
    expect(labelsMatch(get(o, 'PodDisruptionBudget', 'duel-worker').spec.selector.matchLabels, worker.spec.template.metadata.labels)).toBe(true);
    const backend = get(o, 'Ingress', 'duel-coordinator').spec.rules[0].http.paths[0].backend.service;
    expect(get(o, 'Service', backend.name).spec.ports.map((p: Obj) => p.name)).toContain(backend.port.name);
    expect(Number(get(o, 'Ingress', 'duel-coordinator').metadata.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(3600);

    // preStop, then SIGTERM: the worker finishes its task within --grace-ms, says bye (≤ 2 s) — all before SIGKILL.
    const pod = worker.spec.template.spec;
    const c = pod.containers[0];
    const preStop = Number(c.lifecycle.preStop.exec.command.at(-1));
    const graceMs = Number(flag(c.args, '--grace-ms'));
    expect(Number.isFinite(preStop) && Number.isFinite(graceMs)).toBe(true);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStop + graceMs / 1000 + 2);

    // The workers' coordinator URL is the coordinator Service.
    const url = new URL(get(o, 'ConfigMap', 'duel-config').data.DUEL_COORDINATOR_URL);
    const svc = get(o, 'Service', 'duel-coordinator');
    expect(url.hostname).toBe(svc.metadata.name);
    expect(svc.spec.ports.map((p: Obj) => p.port)).toContain(Number(url.port));
  });

  it.each(OVERLAYS)('%s: every image is built by a Dockerfile of deploy/ (or is Redis), and its arguments fit that image', (o) => {
    for (const { m, c } of containersOf(o)) {
      const base = imageBase(c.image);
      if (THIRD_PARTY.has(base)) continue;
      const df = dockerfiles.get(base);
      expect(df, `${m.metadata.name}: image ${c.image} has no Dockerfile in deploy/ (LABEL io.duel.image="${base}")`).toBeDefined();
      // The overlay's images transformer rewrote the name: a registry path and a tag, not the bare placeholder.
      expect(c.image).toMatch(/^[\w.-]+(:\d+)?\/[\w./-]+:[\w.-]+$/);
      const entry = df!.entrypoint!;
      const argv = [...entry.slice(2), ...(c.args ?? df!.cmd ?? [])];
      expect(['coordinator', 'worker']).toContain(argv[0]);
      if (argv[0] === 'worker') {
        const backend = flag(argv, '--backend');
        const fits: Record<string, string[]> = { 'duel-worker-cuda': ['tensorflow'], 'duel-worker-webgpu': ['webgpu'], 'duel-coordinator': ['wasm', 'cpu'] };
        expect(fits[base], `${c.image} runs --backend ${backend}`).toContain(backend);
      }
      for (const p of (c.ports as Obj[] | undefined) ?? []) expect(df!.exposed, `${df!.file} EXPOSEs ${p.containerPort}`).toContain(p.containerPort);
    }
  });

  it.each(OVERLAYS)('%s: every secretKeyRef names a Secret key the overlay ships or the runbook creates', (o) => {
    const runbook = readFileSync(join(REPO_ROOT, 'docs', 'deploy-kubernetes.md'), 'utf8');
    const refs = containersOf(o).flatMap(({ c }) => ((c.env as Obj[] | undefined) ?? []).map((e) => e.valueFrom?.secretKeyRef).filter(Boolean)) as Obj[];
    expect(refs.map((r) => r.key).sort()).toEqual(expect.arrayContaining(['DUEL_ADMIN_TOKEN', 'DUEL_WORKER_TOKEN']));
    for (const ref of refs) {
      const shipped = rendered.get(o)!.find((m) => m.kind === 'Secret' && m.metadata.name === ref.name) as Obj | undefined;
      if (shipped) {
        expect(Object.keys({ ...shipped.data, ...shipped.stringData })).toContain(ref.key);
        continue;
      }
      const create = new RegExp(`create secret generic ${ref.name}[^\\n]*(\\\\\\n[^\\n]*)*--from-literal=${ref.key}=`);
      expect(runbook, `${o}: Secret ${ref.name} key ${ref.key} is neither in the overlay nor created in the runbook`).toMatch(create);
    }
  });

  it('every environment variable the deployment sets is read by duel, used in an argument, or read by the driver stack', () => {
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') ? [readFileSync(join(dir, e.name), 'utf8')] : [],
      );
    const code = [...sources(join(REPO_ROOT, 'libs')), ...sources(join(REPO_ROOT, 'apps'))].join('\n');
    const readByDuel = new Set([...code.matchAll(/(?:process\.env\.|env\[['"])([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]));
    // Read by the NVIDIA container toolkit, the Vulkan loader, Dawn, TensorFlow or Node, not by duel.
    const platform = new Set(['NVIDIA_VISIBLE_DEVICES', 'NVIDIA_DRIVER_CAPABILITIES', 'XDG_CACHE_HOME', 'TF_CPP_MIN_LOG_LEVEL', 'NODE_ENV']);
    const compose = parseYaml(readFileSync(join(DEPLOY, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Obj> };
    for (const o of OVERLAYS) {
      const args = containersOf(o).flatMap(({ c }) => c.args ?? []).join(' ');
      const set = new Set<string>([
        ...Object.keys(get(o, 'ConfigMap', 'duel-config').data),
        ...containersOf(o).flatMap(({ c }) => ((c.env as Obj[] | undefined) ?? []).map((e) => e.name as string)),
        ...Object.values(compose.services).flatMap((svc) => Object.keys(svc.environment ?? {})),
      ]);
      for (const name of set) {
        const used = readByDuel.has(name) || args.includes(`$(${name})`) || platform.has(name);
        expect(used, `${o}: ${name} is set but nothing reads it`).toBe(true);
      }
    }
    for (const df of dockerfiles.values()) {
      for (const i of df.stages.at(-1)!.instructions.filter((x) => x.getKeyword() === 'ENV')) {
        for (const m of (i.getArgumentsContent() ?? '').matchAll(/([A-Z][A-Z0-9_]*)=/g)) {
          expect(readByDuel.has(m[1]) || platform.has(m[1]), `${df.file}: ENV ${m[1]} is set but nothing reads it`).toBe(true);
        }
      }
    }
  });

  it('docker-compose builds its images from these Dockerfiles and runs the documented commands', () => {
    const compose = parseYaml(readFileSync(join(DEPLOY, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Obj> };
    const expand = (s: string) => s.replace(/\$\{(\w+)(?::-([^}]*))?\}/g, (_m, _k, d: string | undefined) => d ?? '');
    const services = Object.entries(compose.services);
    expect(services.map(([n]) => n).sort()).toEqual(['coordinator', 'redis', 'worker-1', 'worker-2']);
    for (const [name, s] of services) {
      const base = imageBase(expand(s.image));
      if (s.build) {
        const df = [...dockerfiles.values()].find((d) => `deploy/${d.file}` === s.build.dockerfile);
        expect(df, `${name}: ${s.build.dockerfile}`).toBeDefined();
        expect(df!.imageName).toBe(base);
      }
      if (THIRD_PARTY.has(base)) continue;
      expect(dockerfiles.has(base), `${name}: ${s.image}`).toBe(true);
      expect(['coordinator', 'worker']).toContain(s.command[0]);
      // A worker's health check probes the port it serves its metrics on.
      if (s.command[0] === 'worker') expect(s.healthcheck.test.join(' ')).toContain(`:${flag(s.command, '--metrics-port')}/readyz`);
    }
    const k8sRedis = get('dev', 'StatefulSet', 'duel-redis').spec.template.spec.containers[0].image;
    expect(compose.services['redis'].image).toBe(k8sRedis);
  });
});

describe('probes and autoscaling metrics exist on the real processes', () => {
  let c: RunningCoordinator | undefined;
  let worker: ChildProcess | undefined;
  let workerPort = 0;

  beforeAll(async () => {
    const run = resolveRunConfig({ dataset: 'ring8', steps: 100_000, batchSize: 32, hidden: 8, seed: 3 });
    c = await startCoordinator(defaultCoordinatorOptions(run, { port: 0 }));
    // A real `duel worker` process with the flags the manifests give it (port 0: any free port).
    worker = spawn(process.execPath, [DUEL_BIN, 'worker', '--coordinator', c.wsUrl, '--backend', 'cpu', '--metrics-port', '0', '--grace-ms', '2000'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    workerPort = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not report its metrics port:\n${log}`)), 60_000);
      worker!.stderr!.setEncoding('utf8').on('data', (s: string) => {
        log += s;
        const m = /"event":"metrics"[^\n]*"port":(\d+)|"port":(\d+)[^\n]*"event":"metrics"/.exec(log);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1] ?? m[2]));
        }
      });
    });
  });
  afterAll(async () => {
    if (worker) await stopAll([worker], 5_000);
    await c?.close();
  });

  async function until(pred: () => Promise<boolean>, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await pred())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('every httpGet probe in every overlay answers 200 on the process it belongs to', async () => {
    // The worker's /readyz is 200 only once connected.
    await until(async () => (await fetch(`http://127.0.0.1:${workerPort}/readyz`)).status === 200, 60_000, 'worker ready');
    const checked = new Set<string>();
    for (const o of OVERLAYS) {
      for (const { m, c: container } of containersOf(o)) {
        const base = imageBase(container.image);
        if (THIRD_PARTY.has(base)) continue;
        const df = dockerfiles.get(base)!;
        const argv = [...df.entrypoint!.slice(2), ...(container.args ?? df.cmd ?? [])];
        const isWorker = argv[0] === 'worker';
        const ps = probes(container);
        expect(ps.map((p) => p.kind), `${o} ${m.metadata.name}`).toEqual(expect.arrayContaining(['livenessProbe', 'readinessProbe']));
        for (const p of ps) {
          // The probe's port is the one the process is told to serve on.
          expect(p.port, `${o} ${m.metadata.name} ${p.kind}`).toBe(Number(flag(argv, isWorker ? '--metrics-port' : '--port')));
          const url = isWorker ? `http://127.0.0.1:${workerPort}${p.path}` : `${c!.url}${p.path}`;
          const res = await fetch(url);
          expect(res.status, `${o} ${m.metadata.name} ${p.kind} GET ${p.path}`).toBe(200);
          checked.add(`${isWorker ? 'worker' : 'coordinator'} ${p.path}`);
        }
      }
    }
    expect([...checked].sort()).toEqual(['coordinator /healthz', 'coordinator /readyz', 'worker /healthz', 'worker /readyz']);
    // And the check can fail: a path nobody serves is a 404 on both.
    expect((await fetch(`${c!.url}/ready`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${workerPort}/ready`)).status).toBe(404);
  });

  it('the coordinator readiness includes the store, and the metrics the autoscalers read are exported', async () => {
    const ready = (await (await fetch(`${c!.url}/readyz`)).json()) as Obj;
    expect(ready.status).toBe('ok');
    expect(ready.details.store.status).toBe('up');
    const text = await (await fetch(`${c!.url}/metrics`)).text();
    const exported = new Set([...text.matchAll(/^# TYPE (\w+) /gm)].map((m) => m[1]));
    const hpa = get('gpu-cluster', 'HorizontalPodAutoscaler', 'duel-worker');
    for (const metric of hpa.spec.metrics) {
      expect(exported).toContain(metric.external.metric.name);
      // Per pod: replicas = value / target. A plain Value target on a run-wide gauge would not scale with it.
      expect(metric.external.target.type).toBe('AverageValue');
    }
    const [keda] = readManifests(join(K8S_DIR, 'examples', 'keda-scaledobject.yaml')) as Obj[];
    for (const t of keda.spec.triggers) {
      const names = [...(t.metadata.query as string).matchAll(/\b(duel_\w+)/g)].map((m) => m[1]);
      expect(names.length).toBeGreaterThan(0);
      for (const n of names) expect(exported).toContain(n);
    }
    expect(text).toMatch(/^duel_workers\{kind="node",backend="cpu"\} 1$/m);
  });
});
