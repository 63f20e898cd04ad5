import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** One Kubernetes object as parsed from YAML. */
export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Reads every YAML document of a file (comments and empty documents dropped). */
export function readManifests(file: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const out: Manifest[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    const v = d.toJSON() as Manifest | null;
    if (v !== null) out.push(v);
  }
  return out;
}

/** True when `kubectl` is on PATH (it is not on the CI machine). */
export function hasKubectl(): boolean {
  return spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
}

/**
 * Renders a kustomization directory: with `kubectl kustomize` where kubectl
 * exists, else with `renderKustomization` below.
 */
export function render(dir: string): Manifest[] {
  if (hasKubectl()) {
    const text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
    return parseAllDocuments(text)
      .map((d) => d.toJSON() as Manifest | null)
      .filter((m): m is Manifest => m !== null);
  }
  return renderKustomization(dir);
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'replicas', 'patches']);

/**
 * A small kustomize renderer for exactly the features k8s/ uses, in
 * kustomize's order: resources (files, or directories with their own
 * kustomization, rendered first), then `patches` (strategic merge patches
 * from files, matched by kind + name [+ namespace]), `namespace`, `replicas`
 * and `images`. Any other field, a patch that matches nothing, or a missing
 * file throws, so an unsupported kustomization fails loudly instead of
 * rendering something kubectl would not.
 */
export function renderKustomization(dir: string): Manifest[] {
  const kfile = join(dir, 'kustomization.yaml');
  if (!existsSync(kfile)) throw new Error(`${dir}: no kustomization.yaml`);
  const k = readManifests(kfile)[0] as unknown as Record<string, unknown>;
  for (const key of Object.keys(k)) if (!SUPPORTED.has(key)) throw new Error(`${kfile}: kustomize field "${key}" is not supported by this renderer`);

  let out: Manifest[] = [];
  for (const r of (k['resources'] as string[] | undefined) ?? []) {
    const p = resolve(dir, r);
    if (!existsSync(p)) throw new Error(`${kfile}: resource ${r} does not exist`);
    out.push(...(statSync(p).isDirectory() ? renderKustomization(p) : readManifests(p)));
  }
  const ids = new Set<string>();
  for (const m of out) {
    const id = `${m.kind}/${m.metadata.namespace ?? ''}/${m.metadata.name}`;
    if (ids.has(id)) throw new Error(`${kfile}: duplicate resource ${id}`);
    ids.add(id);
  }

  for (const p of (k['patches'] as { path?: string }[] | undefined) ?? []) {
    if (!p.path || Object.keys(p).length !== 1) throw new Error(`${kfile}: only patches with a single "path" are supported`);
    for (const patch of readManifests(resolve(dir, p.path))) {
      const targets = out.filter(
        (m) =>
          m.kind === patch.kind &&
          m.apiVersion === patch.apiVersion &&
          m.metadata.name === patch.metadata.name &&
          (patch.metadata.namespace === undefined || m.metadata.namespace === patch.metadata.namespace),
      );
      if (targets.length !== 1) throw new Error(`${kfile}: patch ${p.path} (${patch.kind}/${patch.metadata.name}) matches ${targets.length} resources`);
      out = out.map((m) => (m === targets[0] ? (strategicMerge(m as unknown as Json, patch as unknown as Json) as unknown as Manifest) : m));
    }
  }

  const ns = k['namespace'] as string | undefined;
  if (ns) {
    for (const m of out) if (!CLUSTER_SCOPED.has(m.kind)) m.metadata.namespace = ns;
  }

  for (const r of (k['replicas'] as { name: string; count: number }[] | undefined) ?? []) {
    const targets = out.filter((m) => m.metadata.name === r.name && REPLICATED.has(m.kind));
    if (targets.length === 0) throw new Error(`${kfile}: replicas for ${r.name} match nothing`);
    for (const m of targets) (m['spec'] as Record<string, unknown>)['replicas'] = r.count;
  }

  for (const img of (k['images'] as { name: string; newName?: string; newTag?: string }[] | undefined) ?? []) {
    for (const m of out) {
      for (const c of podContainers(m)) {
        const { name, tag } = splitImage(c.image);
        if (name !== img.name) continue;
        c.image = `${img.newName ?? name}${img.newTag !== undefined ? `:${img.newTag}` : tag !== undefined ? `:${tag}` : ''}`;
      }
    }
  }
  return out;
}

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PersistentVolume', 'StorageClass', 'CustomResourceDefinition']);
const REPLICATED = new Set(['Deployment', 'StatefulSet', 'ReplicaSet']);

/** The containers (init containers included) of a workload's pod template, or of a Pod. */
export function podContainers(m: Manifest): { name: string; image: string; [k: string]: unknown }[] {
  const spec = m['spec'] as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
  const pod = m.kind === 'Pod' ? spec : spec?.['template']?.['spec'] ?? spec?.['jobTemplate']?.['spec']?.['template']?.['spec'];
  if (!pod) return [];
  return [...(pod['initContainers'] ?? []), ...(pod['containers'] ?? [])];
}

/** "reg:5000/a/b:tag" → { name: "reg:5000/a/b", tag: "tag" } (a digest stays in the name). */
export function splitImage(image: string): { name: string; tag?: string } {
  if (image.includes('@')) return { name: image };
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? { name: image.slice(0, colon), tag: image.slice(colon + 1) } : { name: image };
}

/** List fields merged by key, as Kubernetes' strategic merge patch does for them; any other list is replaced. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
};

/** Strategic merge: maps merge recursively, keyed lists merge by key, other lists and scalars are replaced; null deletes. */
export function strategicMerge(base: Json, patch: Json, key = ''): Json {
  if (Array.isArray(patch)) {
    const mk = MERGE_KEYS[key];
    if (!mk || !Array.isArray(base)) return patch;
    const out = [...base];
    for (const item of patch) {
      const id = (item as Record<string, Json>)[mk];
      const i = out.findIndex((b) => (b as Record<string, Json>)[mk] === id);
      if (i >= 0) out[i] = strategicMerge(out[i], item, '');
      else out.push(item);
    }
    return out;
  }
  if (patch === null || typeof patch !== 'object') return patch;
  if (base === null || typeof base !== 'object' || Array.isArray(base)) return patch;
  const out: Record<string, Json> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = k in out ? strategicMerge(out[k], v, k) : v;
  }
  return out;
}

export const REPO_ROOT = resolve(__dirname, '../../..');
export const K8S_DIR = join(REPO_ROOT, 'k8s');
export const relativeTo = (p: string) => p.slice(dirname(K8S_DIR).length + 1);
