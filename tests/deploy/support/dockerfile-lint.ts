import dockerignore from '@balena/dockerignore';
import { DockerfileParser, type Instruction, type ModifiableInstruction } from 'dockerfile-ast';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const KEYWORDS = new Set([
  'FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME',
  'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL',
]);

export interface Stage {
  name: string | null;
  image: string;
  instructions: Instruction[];
}

export interface LintContext {
  /** The build context (the repository root). */
  contextDir: string;
  /** The .dockerignore text that applies to this Dockerfile ('' for none). */
  dockerignore: string;
  /** npm scripts that exist (package.json "scripts"). */
  npmScripts: string[];
}

export interface LintResult {
  problems: string[];
  stages: Stage[];
  /** LABEL io.duel.image of the final stage: the image name this Dockerfile builds. */
  imageName: string | null;
  /** The final stage's ENTRYPOINT and CMD in exec form (null when absent). */
  entrypoint: string[] | null;
  cmd: string[] | null;
  exposed: number[];
}

/**
 * The checks hadolint would do that matter here (hadolint is not installed):
 * the file parses into known instructions; stages are well formed; every
 * COPY source exists in the context and is not excluded by .dockerignore;
 * `COPY --from` names an earlier stage; multi-source COPY targets a directory;
 * `npm run X` names a script that exists; ENTRYPOINT and CMD use the exec
 * form (so SIGTERM reaches node); the final stage runs as a non-root user and
 * names its image with LABEL io.duel.image.
 */
export function lintDockerfile(text: string, ctx: LintContext): LintResult {
  const problems: string[] = [];
  const df = DockerfileParser.parse(text);
  const ignore = dockerignore({ ignorecase: false }).add(ctx.dockerignore);
  const initialArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of df.getInstructions()) {
    const kw = ins.getKeyword();
    const line = ins.getRange().start.line + 1;
    const at = `line ${line} (${kw})`;
    if (!KEYWORDS.has(kw)) {
      problems.push(`${at}: unknown instruction`);
      continue;
    }
    if (kw === 'ARG' && stages.length === 0) {
      const [k, v] = (ins.getArgumentsContent() ?? '').split('=');
      initialArgs.set(k.trim(), (v ?? '').trim());
      continue;
    }
    if (kw === 'FROM') {
      const args = ins.getArguments().map((a) => a.getValue());
      const image = args[0]?.replace(/^\$\{?(\w+)\}?$/, (_m, name: string) => initialArgs.get(name) ?? `<undefined ARG ${name}>`) ?? '';
      if (!image || image.includes('<undefined')) problems.push(`${at}: base image "${args[0]}" does not resolve (${image})`);
      const asAt = args.findIndex((a) => a.toUpperCase() === 'AS');
      const name = asAt >= 0 ? args[asAt + 1] ?? null : null;
      if (name && stages.some((s) => s.name === name)) problems.push(`${at}: stage name "${name}" used twice`);
      stages.push({ name, image, instructions: [] });
      continue;
    }
    if (stages.length === 0) {
      problems.push(`${at}: instruction before the first FROM`);
      continue;
    }
    stages.at(-1)!.instructions.push(ins);
    if (kw === 'COPY' || kw === 'ADD') lintCopy(ins, at, stages, ctx, ignore, problems);
    if (kw === 'RUN') {
      for (const m of (ins.getArgumentsContent() ?? '').matchAll(/npm run ([\w:.-]+)/g)) {
        if (!ctx.npmScripts.includes(m[1])) problems.push(`${at}: npm script "${m[1]}" does not exist in package.json`);
      }
    }
    if ((kw === 'ENTRYPOINT' || kw === 'CMD') && !(ins.getArgumentsContent() ?? '').trim().startsWith('[')) {
      problems.push(`${at}: use the exec (JSON) form, so signals reach the process`);
    }
  }
  if (stages.length === 0) problems.push('no FROM');

  const last = stages.at(-1);
  const final = last?.instructions ?? [];
  const lastOf = (kw: string) => final.filter((i) => i.getKeyword() === kw).at(-1);
  const user = lastOf('USER')?.getArgumentsContent()?.trim() ?? null;
  if (user === null) problems.push('final stage: no USER (it would run as root)');
  else if (/^(root|0)(:.*)?$/.test(user)) problems.push(`final stage: USER ${user} is root`);
  let imageName: string | null = null;
  for (const l of final.filter((i) => i.getKeyword() === 'LABEL')) {
    const m = /io\.duel\.image="?([\w.-]+)"?/.exec(l.getArgumentsContent() ?? '');
    if (m) imageName = m[1];
  }
  if (!imageName) problems.push('final stage: no LABEL io.duel.image="<image name>"');
  const execForm = (i: Instruction | undefined): string[] | null => {
    if (!i) return null;
    try {
      return JSON.parse(i.getArgumentsContent() ?? '') as string[];
    } catch {
      return null;
    }
  };
  const exposed = final.filter((i) => i.getKeyword() === 'EXPOSE').flatMap((i) => i.getArguments().map((a) => Number.parseInt(a.getValue(), 10)));
  return { problems, stages, imageName, entrypoint: execForm(lastOf('ENTRYPOINT')), cmd: execForm(lastOf('CMD')), exposed };
}

function lintCopy(
  ins: Instruction,
  at: string,
  stages: Stage[],
  ctx: LintContext,
  ignore: ReturnType<typeof dockerignore>,
  problems: string[],
): void {
  // The parser keeps flags (--from, --chown...) apart from the arguments.
  const flags = (ins as ModifiableInstruction).getFlags().map((f) => [f.getName(), f.getValue()] as const);
  const paths = ins.getArguments().map((a) => a.getValue());
  if (paths.length < 2) {
    problems.push(`${at}: needs at least one source and a destination`);
    return;
  }
  const sources = paths.slice(0, -1);
  const dest = paths.at(-1)!;
  if (sources.length > 1 && !dest.endsWith('/')) problems.push(`${at}: several sources need a directory destination ending in "/"`);
  const from = flags.find(([name]) => name === 'from')?.[1] ?? undefined;
  if (from !== undefined) {
    const earlier = stages.slice(0, -1).some((s) => s.name === from);
    if (!earlier && !/[:/]/.test(from)) problems.push(`${at}: --from=${from} is neither an earlier stage nor an image`);
    return;
  }
  for (const src of sources) {
    if (/[*?[]/.test(src)) {
      problems.push(`${at}: glob source "${src}" cannot be checked; name the files`);
      continue;
    }
    const rel = src.replace(/^\.\//, '').replace(/\/$/, '');
    if (!existsSync(join(ctx.contextDir, rel))) problems.push(`${at}: source "${src}" does not exist in the build context`);
    else if (rel !== '.' && ignore.ignores(rel)) problems.push(`${at}: source "${src}" is excluded by .dockerignore`);
  }
}

/** The lint context for a Dockerfile of deploy/: the repository root, its <Dockerfile>.dockerignore, package.json scripts. */
export function deployContext(root: string, dockerfile: string): LintContext {
  const ignoreFile = `${dockerfile}.dockerignore`;
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  return {
    contextDir: root,
    dockerignore: existsSync(ignoreFile) ? readFileSync(ignoreFile, 'utf8') : '',
    npmScripts: Object.keys(pkg.scripts ?? {}),
  };
}
