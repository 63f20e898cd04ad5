import { describe, expect, it } from 'vitest';
import { resolveRunConfig } from '@duel/trainer';
import { ErrorCodes } from '@duel/util';
import { defaultCoordinatorOptions, type CoordinatorOptions } from './coordinator.options';
import { secretEquals, VolunteerSessions } from './volunteer-sessions';

const opts = (over: Partial<CoordinatorOptions> = {}) => defaultCoordinatorOptions(resolveRunConfig({ dataset: 'ring8', steps: 1 }), over);
const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return 'no error';
};

describe('VolunteerSessions', () => {
  it('issues tokens that verify until they expire, then SESSION_EXPIRED', () => {
    const s = new VolunteerSessions(opts({ sessionTtlMs: 1000 }));
    const { token, expiresAt } = s.issue('1.2.3.4', undefined, 5000);
    expect(expiresAt).toBe(6000);
    expect(s.verify(token, 5999).expiresAt).toBe(6000);
    expect(code(() => s.verify(token, 6000))).toBe(ErrorCodes.SESSION_EXPIRED);
  });

  it('refuses missing, malformed, forged and foreign tokens with UNAUTHORIZED', () => {
    const s = new VolunteerSessions(opts());
    const { token } = s.issue('ip', undefined, 0);
    const parts = token.split('.');
    const forgedExpiry = [parts[0], parts[1], (Date.now() * 2).toString(36), parts[3]].join('.');
    const other = new VolunteerSessions(opts()).issue('ip', undefined, 0).token;
    for (const bad of [undefined, '', 'x', `${token}x`, forgedExpiry, other, '__proto__', 'dv1.a.b.c.d']) {
      expect(code(() => s.verify(bad, 1)), String(bad)).toBe(ErrorCodes.UNAUTHORIZED);
    }
  });

  it('with DUEL_SESSION_SECRET, tokens survive a restart (a new instance with the same key)', () => {
    const a = new VolunteerSessions(opts({ sessionSecret: 'k' }));
    const b = new VolunteerSessions(opts({ sessionSecret: 'k' }));
    expect(b.verify(a.issue('ip', undefined, 0).token, 1).sessionId).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('needs the invite when the run sets one', () => {
    const s = new VolunteerSessions(opts({ volunteerInvite: 'open-sesame' }));
    expect(code(() => s.issue('a', undefined, 0))).toBe(ErrorCodes.UNAUTHORIZED);
    expect(code(() => s.issue('b', 'wrong', 0))).toBe(ErrorCodes.UNAUTHORIZED);
    expect(s.issue('c', 'open-sesame', 0).token).toMatch(/^dv1\./);
  });

  it('rate-limits issuing per IP', () => {
    const s = new VolunteerSessions(opts({ sessionRate: { burst: 2, perSecond: 1 } }));
    s.issue('a', undefined, 0);
    s.issue('a', undefined, 0);
    expect(code(() => s.issue('a', undefined, 0))).toBe(ErrorCodes.RATE_LIMITED);
    expect(s.issue('b', undefined, 0).token).toBeTruthy();
    expect(s.issue('a', undefined, 1000).token).toBeTruthy();
  });

  it('compares secrets in constant time, refusing non-strings', () => {
    expect(secretEquals('a', 'a')).toBe(true);
    expect(secretEquals('a', 'ab')).toBe(false);
    expect(secretEquals(undefined, 'a')).toBe(false);
    expect(secretEquals(1, '1')).toBe(false);
  });
});
