import { createHash, createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ganLayout } from '@duel/gan';
import { decodeCheckpoint, encodeCheckpoint } from '@duel/store';
import { ganSpecFor, initTrainingState, resolveRunConfig } from '@duel/trainer';
import { checkpointOf, type CoordinatorCheckpointMeta } from './checkpoint-mapping';
import type { Recovery } from './recovery.token';
import { WorkerIdentity } from './worker-identity';

const fresh: Recovery = { resumed: null } as unknown as Recovery;
const resumedWith = (meta: Partial<CoordinatorCheckpointMeta>): Recovery => ({ resumed: { runId: 'run-x', meta } }) as unknown as Recovery;

describe('WorkerIdentity', () => {
  it('issues base64url HMAC-SHA256 tokens that verify only for their own id', () => {
    const id = new WorkerIdentity({}, fresh);
    const token = id.tokenFor('w-1-abc');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(id.verify('w-1-abc', token)).toBe(true);
    expect(id.tokenFor('w-1-abc')).toBe(token);
    expect(id.verify('w-2-abc', token)).toBe(false);
    for (const bad of [undefined, null, '', 42, [token], `${token}x`, token.slice(1), token.toUpperCase(), id.tokenFor('w-1-ab')]) {
      expect(id.verify('w-1-abc', bad), String(bad)).toBe(false);
    }
  });

  it('derives the key from DUEL_SESSION_SECRET, independent of the volunteer-session key, and keeps it out of checkpoints', () => {
    const a = new WorkerIdentity({ sessionSecret: 'k' }, fresh);
    const b = new WorkerIdentity({ sessionSecret: 'k' }, resumedWith({ resumeKey: Buffer.alloc(32, 7).toString('base64url') }));
    expect(a.source).toBe('secret');
    expect(b.source).toBe('secret');
    expect(b.verify('w-5', a.tokenFor('w-5'))).toBe(true);
    expect(a.checkpointKey()).toBeUndefined();
    // The documented construction: HMAC(HMAC(secret, label), "duel-resume/1\0" + id).
    const key = createHmac('sha256', 'k').update('duel-resume-key/1').digest();
    expect(a.tokenFor('w-5')).toBe(createHmac('sha256', key).update('duel-resume/1\0w-5').digest('base64url'));
    // VolunteerSessions keys with sha256(secret): a MAC under that key is not a resume token.
    const sessionKey = createHash('sha256').update('k').digest();
    expect(a.verify('w-5', createHmac('sha256', sessionKey).update('duel-resume/1\0w-5').digest('base64url'))).toBe(false);
    expect(new WorkerIdentity({ sessionSecret: 'other' }, fresh).verify('w-5', a.tokenFor('w-5'))).toBe(false);
  });

  it('without a secret draws a random key per fresh run, and a resumed run reads it back from the checkpoint meta', () => {
    const a = new WorkerIdentity({}, fresh);
    const b = new WorkerIdentity({}, fresh);
    expect(a.source).toBe('random');
    expect(b.verify('w-1', a.tokenFor('w-1'))).toBe(false);
    const saved = a.checkpointKey()!;
    expect(saved).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const again = new WorkerIdentity({}, resumedWith({ resumeKey: saved }));
    expect(again.source).toBe('checkpoint');
    expect(again.verify('w-1', a.tokenFor('w-1'))).toBe(true);
    expect(again.checkpointKey()).toBe(saved);
  });

  it('survives the real checkpoint encoding: checkpointOf → bytes → meta → a new WorkerIdentity', () => {
    const run = resolveRunConfig({ dataset: 'ring8', steps: 2, seed: 1 });
    const a = new WorkerIdentity({}, fresh);
    const state = initTrainingState(run, ganLayout(ganSpecFor(run)));
    const cp = checkpointOf('run-x', state, { run, mode: 'sync', shards: 1, resumeKey: a.checkpointKey() }, { next: { phase: 'D', step: 1, sub: 0, versions: { g: 0, d: 0 } }, resolved: [] }, 0);
    const meta = decodeCheckpoint(encodeCheckpoint(cp)).meta as CoordinatorCheckpointMeta;
    expect(new WorkerIdentity({}, resumedWith(meta)).verify('w-3', a.tokenFor('w-3'))).toBe(true);
    // A secret-derived key is never written.
    const withSecret = checkpointOf('run-x', state, { run, mode: 'sync', shards: 1, resumeKey: new WorkerIdentity({ sessionSecret: 's' }, fresh).checkpointKey() }, { next: { phase: 'D', step: 1, sub: 0, versions: { g: 0, d: 0 } }, resolved: [] }, 0);
    expect('resumeKey' in withSecret.meta).toBe(false);
  });

  it('starts a new key when the checkpoint holds none or a malformed one (older checkpoints)', () => {
    const a = new WorkerIdentity({}, fresh);
    for (const resumeKey of [undefined, 'short', `${a.checkpointKey()!.slice(0, 42)}!`, 42 as unknown as string]) {
      const b = new WorkerIdentity({}, resumedWith({ resumeKey }));
      expect(b.source, String(resumeKey)).toBe('random');
      expect(b.verify('w-1', a.tokenFor('w-1'))).toBe(false);
    }
  });

  it('never shows its key when serialised or inspected', () => {
    const a = new WorkerIdentity({}, fresh);
    const key = a.checkpointKey()!;
    const bytes = Buffer.from(key, 'base64url');
    for (const text of [JSON.stringify(a), inspect(a, { depth: 5, showHidden: true })]) {
      expect(text).not.toContain(key);
      expect(text).not.toContain(bytes.toString('hex'));
      expect(text).not.toContain([...bytes].join(',')); // JSON's {"type":"Buffer","data":[…]}
      expect(text).not.toMatch(/\b[0-9a-f]{2} [0-9a-f]{2} [0-9a-f]{2}\b/); // no <Buffer ..> dump
    }
  });
});
