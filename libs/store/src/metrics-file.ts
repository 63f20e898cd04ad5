import { appendFile, readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { atomicWrite } from './checkpoint-files';
import { parseMetricsPoint } from './state-store.base';
import type { MetricsPoint } from './state-store';

/**
 * The metrics history as a file of JSON lines, one point a line, so the
 * embedded store's history outlives a restart (a resumed coordinator reads it
 * back). A point is one small append, not an fsynced rewrite: a crash loses at
 * most the last points, and a torn last line is skipped on load. Once the
 * file holds twice the points the store keeps, the next write replaces it
 * (atomically) with the points kept.
 */
export class MetricsFile {
  private lines = 0;
  /** Writes run one at a time, in the order they were asked for. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly keep: number,
  ) {}

  /** The newest `keep` good points in the file, oldest first; none when there is no file. */
  async load(): Promise<MetricsPoint[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const rows = text.split('\n').filter(Boolean);
    this.lines = rows.length;
    return rows
      .map(parseMetricsPoint)
      .filter((p): p is MetricsPoint => p !== null)
      .slice(-this.keep);
  }

  /** Appends `point`; `kept` (the store's points, `point` last) is what a compaction writes. */
  append(point: MetricsPoint, kept: readonly MetricsPoint[]): Promise<void> {
    // Decided now, not when the write runs: a compaction holds exactly the points up to this one.
    const compact = ++this.lines > 2 * this.keep;
    const text = (compact ? kept : [point]).map((p) => `${JSON.stringify(p)}\n`).join('');
    if (compact) this.lines = kept.length;
    const write = this.queue.then(() =>
      compact ? atomicWrite(dirname(this.path), basename(this.path), new TextEncoder().encode(text)) : appendFile(this.path, text),
    );
    this.queue = write.catch(() => undefined);
    return write;
  }

  /** Resolves once every write asked for so far has finished (or failed). */
  flush(): Promise<void> {
    return this.queue;
  }
}
