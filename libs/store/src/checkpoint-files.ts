import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DuelError, ErrorCodes } from '@duel/util';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint-codec';
import { KEEP_CHECKPOINTS, type CheckpointData, type CheckpointMeta, type CheckpointRef, type LoadedCheckpoint, type RefusedCheckpoint } from './state-store';

const NAME = /^ckpt-(\d{9})\.duel$/;
const POINTER = 'LATEST';

/**
 * Checkpoints as files in one directory: `ckpt-<seq>.duel` (see
 * checkpoint-codec.ts) and a pointer file `LATEST` naming the current one.
 * Every file is written to a temp name, fsynced, renamed into place and the
 * directory fsynced, so a crash leaves either the old or the new file, never a
 * mix; the pointer moves only after the checkpoint it names is durable.
 */
export class CheckpointFiles {
  constructor(
    readonly dir: string,
    private readonly keep = KEEP_CHECKPOINTS,
  ) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  async write(cp: CheckpointData): Promise<CheckpointRef> {
    const seq = (await this.seqs())[0] + 1 || 1;
    const id = `ckpt-${String(seq).padStart(9, '0')}.duel`;
    const bytes = encodeCheckpoint(cp);
    await atomicWrite(this.dir, id, bytes);
    await atomicWrite(this.dir, POINTER, new TextEncoder().encode(`${id}\n`));
    for (const old of (await this.seqs()).slice(this.keep)) await rm(join(this.dir, nameOf(old)), { force: true });
    return { id, seq, step: cp.meta.step, bytes: bytes.byteLength, createdAt: cp.meta.createdAt };
  }

  /** The pointer's checkpoint if it verifies, else the newest one that does; refusals are reported. */
  async load<M extends CheckpointMeta>(): Promise<LoadedCheckpoint<M> | null> {
    const refused: RefusedCheckpoint[] = [];
    const pointed = await readFile(join(this.dir, POINTER), 'utf8').then(
      (s) => s.trim(),
      () => null,
    );
    const candidates = (await this.seqs()).map(nameOf);
    // The pointer first (it is the latest committed one); then every file, newest first.
    const order = pointed && NAME.test(pointed) ? [pointed, ...candidates.filter((c) => c !== pointed)] : candidates;
    for (const id of order) {
      let bytes: Uint8Array;
      try {
        bytes = await readFile(join(this.dir, id));
      } catch (e) {
        refused.push({ id, code: ErrorCodes.CHECKPOINT_CORRUPT, message: `${id}: unreadable (${(e as Error).message})` });
        continue;
      }
      try {
        const data = decodeCheckpoint(bytes, join(this.dir, id)) as CheckpointData<M>;
        const seq = Number(NAME.exec(id)![1]);
        return { ref: { id, seq, step: data.meta.step, bytes: bytes.byteLength, createdAt: data.meta.createdAt }, data, refused };
      } catch (e) {
        const err = e instanceof DuelError ? e : new DuelError(ErrorCodes.CHECKPOINT_CORRUPT, String(e));
        refused.push({ id, code: err.code, message: err.message });
      }
    }
    return null;
  }

  async list(): Promise<CheckpointRef[]> {
    const refs: CheckpointRef[] = [];
    for (const seq of await this.seqs()) {
      const id = nameOf(seq);
      try {
        const data = decodeCheckpoint(await readFile(join(this.dir, id)), id);
        refs.push({ id, seq, step: data.meta.step, bytes: 0, createdAt: data.meta.createdAt });
      } catch {
        // Listed by load() as refused; list() shows only loadable checkpoints.
      }
    }
    return refs;
  }

  /** Sequence numbers of the checkpoint files present, newest first. */
  private async seqs(): Promise<number[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names
      .map((n) => NAME.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => b - a);
  }
}

const nameOf = (seq: number) => `ckpt-${String(seq).padStart(9, '0')}.duel`;

/** Write to `name.tmp-<pid>`, fsync, rename over `name`, fsync the directory (POSIX atomic replace). */
export async function atomicWrite(dir: string, name: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dir, `.${name}.tmp-${process.pid}`);
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
