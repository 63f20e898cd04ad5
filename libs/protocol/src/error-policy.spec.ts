import { DuelError, ErrorCodes } from '@duel/util';
import { describe, expect, it } from 'vitest';
import { closeCodeFor, closeReason, ERROR_POLICIES, errorFrameFor, policyFor, toDuelError } from './error-policy';
import { validateFrame } from './validate';

const PROTOCOL_CODES = [
  'BAD_FRAME', 'UNKNOWN_FRAME', 'PROTOCOL_VERSION', 'FRAME_TOO_LARGE', 'SHAPE_MISMATCH', 'NON_FINITE', 'STALE_VERSION',
  'UNKNOWN_TASK', 'DUPLICATE', 'NOT_HELLO', 'UNAUTHORIZED', 'RATE_LIMITED', 'SHUTTING_DOWN', 'INTERNAL',
  'HANDSHAKE_TIMEOUT', 'HEARTBEAT_TIMEOUT', 'SESSION_EXPIRED', 'TOO_MANY_CONNECTIONS',
] as const;

describe('error policy', () => {
  it('covers every protocol code, with private-range close codes', () => {
    for (const k of PROTOCOL_CODES) {
      const policy = ERROR_POLICIES[ErrorCodes[k]];
      expect(policy, k).toBeDefined();
      if (policy.close !== null) {
        expect(policy.close).toBeGreaterThanOrEqual(4000);
        expect(policy.close).toBeLessThanOrEqual(4999);
      } else {
        expect(policy.ack, k).toBeDefined();
      }
    }
    expect(closeCodeFor(ErrorCodes.BAD_FRAME)).toBe(4400);
    expect(closeCodeFor(ErrorCodes.UNAUTHORIZED)).toBe(4401);
    expect(closeCodeFor(ErrorCodes.HANDSHAKE_TIMEOUT)).toBe(4408);
    expect(closeCodeFor(ErrorCodes.PROTOCOL_VERSION)).toBe(4409);
    expect(closeCodeFor(ErrorCodes.FRAME_TOO_LARGE)).toBe(4413);
    expect(closeCodeFor(ErrorCodes.RATE_LIMITED)).toBe(4429);
    expect(closeCodeFor(ErrorCodes.TOO_MANY_CONNECTIONS)).toBe(4429);
    expect(closeCodeFor(ErrorCodes.SESSION_EXPIRED)).toBe(4440);
    expect(closeCodeFor(ErrorCodes.STALE_VERSION)).toBeNull();
    // A refused resume is news for the worker, not a reason to drop it: it goes on under a new id.
    expect(closeCodeFor(ErrorCodes.RESUME_REFUSED)).toBeNull();
    expect(errorFrameFor(new DuelError(ErrorCodes.RESUME_REFUSED, 'x')).fatal).toBe(false);
    expect(policyFor(ErrorCodes.DUPLICATE).ack).toBe('duplicate');
    expect(policyFor(ErrorCodes.VALIDATION_MISMATCH)).toMatchObject({ close: null, ack: 'rejected' });
  });

  it('treats codes outside the table (and prototype names) as INTERNAL', () => {
    expect(policyFor(ErrorCodes.BAD_SPEC)).toBe(ERROR_POLICIES[ErrorCodes.INTERNAL]);
    expect(policyFor('DUEL_ERR_constructor' as never)).toBe(ERROR_POLICIES[ErrorCodes.INTERNAL]);
    expect(policyFor('toString' as never)).toBe(ERROR_POLICIES[ErrorCodes.INTERNAL]);
  });

  it('builds error frames that validate, without leaking internal causes', () => {
    const internal = errorFrameFor(new TypeError('secret path /etc/x'));
    expect(internal).toEqual({ t: 'error', code: ErrorCodes.INTERNAL, message: 'internal error', fatal: true });
    expect(toDuelError('boom').details).toEqual({ cause: 'boom' });
    const stale = errorFrameFor(new DuelError(ErrorCodes.STALE_VERSION, 'v3 < 5 - 1'));
    expect(stale).toEqual({ t: 'error', code: ErrorCodes.STALE_VERSION, message: 'v3 < 5 - 1', fatal: false });
    const limited = errorFrameFor(new DuelError(ErrorCodes.RATE_LIMITED, 'x'.repeat(5000)), 1000);
    expect(limited.retryAfterMs).toBe(1000);
    for (const f of [internal, stale, limited]) expect(validateFrame(f)).toEqual(f);
  });

  it('keeps close reasons within 123 UTF-8 bytes', () => {
    const short = new DuelError(ErrorCodes.BAD_FRAME, 'bad magic');
    expect(closeReason(short)).toBe('DUEL_ERR_BAD_FRAME: bad magic');
    const long = new DuelError(ErrorCodes.SHAPE_MISMATCH, 'é'.repeat(300));
    const r = closeReason(long);
    expect(new TextEncoder().encode(r).length).toBeLessThanOrEqual(123);
    expect(r.startsWith('DUEL_ERR_SHAPE_MISMATCH: éé')).toBe(true);
  });
});
