import { mkdtempSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { K8S_DIR, hasKubectl, readManifests, render, renderKustomization, type Manifest } from './support/kustomize';
import { validateManifest } from './support/validate';

const OVERLAYS = readdirSync(join(K8S_DIR, 'overlays'));
const rendered = new Map<string, Manifest[]>(OVERLAYS.map((o) => [o, render(join(K8S_DIR, 'overlays', o))]));
const find = (o: string, kind: string, name: string) => {
  const m = rendered.get(o)!.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`${o}: no ${kind}/${name}`);
  return structuredClone(m) as Manifest & { spec: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
};

describe(`k8s overlays render (${hasKubectl() ? 'kubectl kustomize' : 'tests/deploy/support/kustomize.ts'}) and validate offline (kubernetes-models)`, () => {
  it('has the overlays of the issue', () => {
    expect(OVERLAYS).toEqual(expect.arrayContaining(['dev', 'gpu-cluster']));
  });

  it.each(OVERLAYS)('%s: every manifest is valid against the Kubernetes schemas', (o) => {
    const ms = rendered.get(o)!;
    const kinds = new Set(ms.map((m) => m.kind));
    for (const k of ['Namespace', 'ConfigMap', 'Deployment', 'StatefulSet', 'Service', 'Ingress', 'PodDisruptionBudget', 'PersistentVolumeClaim']) expect(kinds).toContain(k);
    for (const m of ms) expect(() => validateManifest(m)).not.toThrow();
    const namespaces = new Set(ms.filter((m) => m.kind !== 'Namespace').map((m) => m.metadata.namespace));
    expect(namespaces.size).toBe(1);
    expect(ms.find((m) => m.kind === 'Namespace')?.metadata.name).toBe([...namespaces][0]);
  });

  it('the validation fails on a wrong type, a missing required field, a wrong enum-like shape and an unknown kind', () => {
    const d = find('dev', 'Deployment', 'duel-coordinator');
    d.spec.template.spec.containers[0].ports[0].containerPort = '8080';
    expect(() => validateManifest(d)).toThrow(/containerPort must be integer/);

    const noSelector = find('dev', 'Deployment', 'duel-worker');
    delete noSelector.spec.selector;
    expect(() => validateManifest(noSelector)).toThrow(/must have required property selector/);

    const noImage = find('gpu-cluster', 'Deployment', 'duel-worker');
    delete noImage.spec.template.spec.containers[0].name;
    expect(() => validateManifest(noImage)).toThrow(/must have required property name/);

    const replicas = find('gpu-cluster', 'Deployment', 'duel-worker');
    replicas.spec.replicas = '8';
    expect(() => validateManifest(replicas)).toThrow(/replicas must be integer/);

    const hpa = find('gpu-cluster', 'HorizontalPodAutoscaler', 'duel-worker');
    delete hpa.spec.maxReplicas;
    expect(() => validateManifest(hpa)).toThrow(/maxReplicas/);

    const ingress = find('dev', 'Ingress', 'duel-coordinator');
    ingress.spec.rules[0].http.paths = 'not a list';
    expect(() => validateManifest(ingress)).toThrow(/paths must be array/);

    expect(() => validateManifest({ apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'x' } })).toThrow(/no schema/);
  });
});

describe('the kustomize renderer', () => {
  function tree(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'duel-kustomize-'));
    for (const [p, text] of Object.entries(files)) {
      mkdirSync(join(dir, p, '..'), { recursive: true });
      writeFileSync(join(dir, p), text);
    }
    return dir;
  }
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: { name: w }
spec:
  replicas: 1
  selector: { matchLabels: { a: b } }
  template:
    metadata: { labels: { a: b } }
    spec:
      containers:
        - { name: c, image: img, args: [x], env: [{ name: A, value: "1" }] }
        - { name: side, image: other:1.0 }
`;

  it('applies patches (merged by container name), namespace, replicas and images in kustomize order', () => {
    const dir = tree({
      'base/kustomization.yaml': 'resources: [d.yaml]\n',
      'base/d.yaml': deployment,
      'o/kustomization.yaml': `namespace: ns
resources: [../base]
replicas: [{ name: w, count: 3 }]
images: [{ name: img, newName: reg.io/team/img, newTag: "2" }]
patches: [{ path: p.yaml }]
`,
      'o/p.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: { name: w }
spec:
  template:
    spec:
      containers:
        - { name: c, args: [y, z], env: [{ name: B, value: "2" }] }
`,
    });
    const [d] = renderKustomization(join(dir, 'o')) as (Manifest & { spec: any })[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(d.metadata.namespace).toBe('ns');
    expect(d.spec.replicas).toBe(3);
    const [c, side] = d.spec.template.spec.containers;
    expect(c).toEqual({ name: 'c', image: 'reg.io/team/img:2', args: ['y', 'z'], env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] });
    expect(side.image).toBe('other:1.0');
  });

  it('refuses what it does not implement, and a patch that matches nothing', () => {
    const unsupported = tree({ 'kustomization.yaml': 'resources: [d.yaml]\ncommonLabels: { a: b }\n', 'd.yaml': deployment });
    expect(() => renderKustomization(unsupported)).toThrow(/"commonLabels" is not supported/);
    const orphan = tree({
      'kustomization.yaml': 'resources: [d.yaml]\npatches: [{ path: p.yaml }]\n',
      'd.yaml': deployment,
      'p.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: nope }\nspec: { replicas: 2 }\n',
    });
    expect(() => renderKustomization(orphan)).toThrow(/matches 0 resources/);
    const missing = tree({ 'kustomization.yaml': 'resources: [gone.yaml]\n' });
    expect(() => renderKustomization(missing)).toThrow(/does not exist/);
  });

  it('the KEDA example parses and scales the worker Deployment the overlays define', () => {
    const [keda] = readManifests(join(K8S_DIR, 'examples', 'keda-scaledobject.yaml')) as (Manifest & { spec: any })[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(keda.kind).toBe('ScaledObject');
    const worker = find('gpu-cluster', 'Deployment', keda.spec.scaleTargetRef.name);
    expect(worker.metadata.namespace).toBe(keda.metadata.namespace);
  });
});
