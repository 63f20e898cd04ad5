/**
 * `npm run bench [-- --quick] [-- --only 1,3]`: measures duel and writes
 * BENCHMARKS.md (the whole file, every run).
 *
 * The machine is small and shared, so no absolute number here is a claim on
 * its own: every claim is a ratio of two things measured side by side in the
 * same run, and every table names the machine, the date and the commit.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { backendsFigure, type BackendCell } from './fig-backends';
import { mnistFigure } from './fig-mnist';
import { ingestFigures } from './fig-ingest';
import { overheadFigure, scalingFigure } from './fig-distributed';
import { wireFigures } from './fig-wire';
import { volunteerFigure } from './fig-volunteer';
import { loadFigure } from './fig-load';
import { recoveryFigure } from './fig-recovery';
import { mnistCodecFigure } from './fig-mnist-codecs';
import { microBatchFigure } from './fig-microbatch';
import { log, machine, ROOT, type Section } from './common';

interface Flags {
  quick: boolean;
  only: Set<number> | null;
  out: string;
}

function flags(argv: string[]): Flags {
  const f: Flags = { quick: false, only: null, out: resolve(ROOT, 'BENCHMARKS.md') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') f.quick = true;
    else if (a === '--only') f.only = new Set(argv[++i].split(',').map(Number));
    else if (a === '--out') f.out = resolve(argv[++i]);
    else throw new Error(`bench: unknown flag ${a} (use --quick, --only 1,2,..., --out FILE)`);
  }
  return f;
}

/**
 * @param lastFull with --only: the previous file's "the last full run took …",
 *   kept, since a run of some figures says nothing about a full run's time
 */
function intro(quick: boolean, started: number, lastFull: string | null): string {
  const mins = ((performance.now() - started) / 60_000).toFixed(1);
  const took = lastFull ?? `the last full run took ${mins} min${quick ? ', **--quick**: shrunk figures, for checking the bench itself, not for quoting' : ''}`;
  return [
    '# duel benchmarks',
    '',
    `Written by \`npm run bench\` (${took}; with \`--only\`, the figures not run keep their`,
    'sections from the previous file, each still naming its own date and commit).',
    "Reproduce with `npm run bench` (about 20 minutes on 2 cores) or `npm run bench -- --quick` (2 to 4 minutes, with the machine's load);",
    '`-- --only 1,3` runs some figures. The code is in tools/bench/.',
    '',
    'The machine these numbers come from is small and shared with other work, so absolute numbers move',
    'from run to run. Every claim below is a **ratio of two things measured side by side in the same run**;',
    'each table names the machine, the date and the git commit.',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const f = flags(process.argv.slice(2));
  const started = performance.now();
  const m = machine();
  const want = (n: number) => !f.only || f.only.has(n);
  const sections: Section[] = [];
  const failed = (n: number, title: string, e: unknown): Section => {
    log(`figure ${n} failed: ${(e as Error).stack ?? String(e)}`);
    return { title, markdown: `Not measured: the figure failed with \`${String((e as Error).message ?? e).split('\n')[0]}\`.`, summary: `figure ${n} FAILED` };
  };
  let cells: BackendCell[] = [];
  const figures: [number, string, () => Promise<Section | Section[]>][] = [
    [
      1,
      '1. Backends',
      async () => {
        const r = await backendsFigure(m, f.quick);
        cells = r.cells; // figure 2 trains the faster image model of these
        return r.section;
      },
    ],
    [2, '2. MNIST', () => mnistFigure(m, f.quick, cells)],
    [3, '3. Ingest and 6. Memory', () => ingestFigures(m, f.quick)],
    [4, '4. Overhead', () => overheadFigure(m, f.quick)],
    [5, '5. Scaling', () => scalingFigure(m, f.quick)],
    [7, '7. Wire and 8. Time to quality', () => wireFigures(m, f.quick)],
    [9, '9. Volunteer', () => volunteerFigure(m, f.quick)],
    [10, '10. Load', () => loadFigure(m, f.quick)],
    [11, '11. Recovery', () => recoveryFigure(m)],
    [12, '12. Wire, MNIST', () => mnistCodecFigure(m, f.quick)],
    [13, '13. Micro-batches', () => microBatchFigure(m, f.quick)],
  ];
  for (const [n, title, run] of figures) {
    if (!want(n)) continue;
    log(`figure ${n}: ${title}`);
    const t0 = performance.now();
    const out = await run().catch((e) => failed(n, title, e));
    sections.push(...(Array.isArray(out) ? out : [out]));
    log(`figure ${n} took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  // With --only, the figures not run keep their sections (and summary lines) from the existing file.
  const kept = f.only && existsSync(f.out) ? keptSections(readFileSync(f.out, 'utf8'), sections) : [];
  const all = [...sections, ...kept];
  // Memory is measured with the ingest load but reads better last.
  all.sort((a, b) => parseFloat(a.title) - parseFloat(b.title));
  const headline = ['## Summary', '', ...all.map((s) => `- ${s.title.split(' ')[0]} ${s.summary}`), ''].join('\n');
  const previous = f.only && existsSync(f.out) ? readFileSync(f.out, 'utf8') : '';
  const lastFull = /the last (?:full )?run took [^;]*/.exec(previous)?.[0].replace('the last run', 'the last full run') ?? null;
  const md = [intro(f.quick, started, f.only ? lastFull : null), headline, ...all.map((s) => `## ${s.title}\n\n${s.markdown}\n`)].join('\n');
  writeFileSync(f.out, md);
  process.stdout.write(`\nwrote ${f.out}\n${sections.map((s) => `  ${s.summary}`).join('\n')}\n`);
  process.exit(0);
}

/** First words of the summary lines of files written before the lines carried their figure number. */
const LEGACY_SUMMARY: Record<string, string> = { '1.': 'backends', '2.': 'MNIST', '3.': 'ingest', '4.': 'overhead', '5.': 'scaling', '6.': 'memory' };

/**
 * Sections of an earlier BENCHMARKS.md whose figure number was not measured
 * now, each with its earlier summary line (found by its `N.` prefix).
 */
function keptSections(md: string, fresh: Section[]): Section[] {
  const num = (title: string) => title.split(' ')[0];
  const freshNums = new Set(fresh.map((s) => num(s.title)));
  const chunks = md.split(/^## /m).slice(1);
  const bullets = (chunks.find((c) => c.startsWith('Summary')) ?? '').split('\n').filter((l) => l.startsWith('- ')).map((l) => l.slice(2));
  return chunks
    .filter((c) => /^\d/.test(c) && !freshNums.has(num(c)))
    .map((c) => {
      const [title, ...body] = c.split('\n');
      const n = num(title);
      const line =
        bullets.find((l) => l.startsWith(`${n} `)) ??
        (LEGACY_SUMMARY[n] && bullets.find((l) => l.startsWith(LEGACY_SUMMARY[n]))) ??
        `${title.replace(/^\S+ /, '')}: kept from an earlier run`;
      return { title, markdown: body.join('\n').trim(), summary: line.replace(/^\d+\. /, '') };
    });
}

void main();
