import { Inject, Injectable, Logger } from '@nestjs/common';
import { DuelError, ErrorCodes } from '@duel/util';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { COORDINATOR_OPTIONS, type CoordinatorOptions } from './coordinator.options';
import { KeyedBuckets } from './token-bucket';

/** What POST /api/volunteer/session answers. */
export interface VolunteerSession {
  /** Present it as hello.token with kind 'volunteer'. */
  token: string;
  /** Epoch ms after which the token is refused with DUEL_ERR_SESSION_EXPIRED. */
  expiresAt: number;
}

/** A verified token. */
export interface SessionClaims {
  sessionId: string;
  expiresAt: number;
}

const PREFIX = 'dv1';

/**
 * Short-lived signed volunteer sessions: `dv1.<sessionId>.<expiresAt base36>.<HMAC-SHA256 base64url>`.
 * Stateless (any coordinator holding the key verifies a token without a
 * lookup), keyed by DUEL_SESSION_SECRET so tokens survive a restart, or by a
 * random per-run key. Issuing is rate-limited per client IP, and needs the
 * run's invite token when DUEL_VOLUNTEER_INVITE is set.
 */
@Injectable()
export class VolunteerSessions {
  private readonly log = new Logger('VolunteerSessions');
  private readonly key: Buffer;
  private readonly ttlMs: number;
  private readonly invite?: string;
  private readonly perIp: KeyedBuckets;
  private issued = 0;

  constructor(@Inject(COORDINATOR_OPTIONS) opts: CoordinatorOptions) {
    this.key = opts.sessionSecret ? createHash('sha256').update(opts.sessionSecret).digest() : randomBytes(32);
    this.ttlMs = opts.sessionTtlMs;
    this.invite = opts.volunteerInvite;
    this.perIp = new KeyedBuckets(opts.sessionRate);
  }

  get inviteRequired(): boolean {
    return this.invite !== undefined;
  }

  /**
   * Issues a session to a client at `ip`. Throws RATE_LIMITED (details.retryAfterMs)
   * when this IP asked too often, UNAUTHORIZED for a missing or wrong invite.
   */
  issue(ip: string, invite: string | undefined, now = Date.now()): VolunteerSession {
    const wait = this.perIp.take(ip, now);
    if (wait > 0) {
      this.log.warn(`session refused for ${ip}: ${ErrorCodes.RATE_LIMITED}`);
      throw new DuelError(ErrorCodes.RATE_LIMITED, 'too many session requests from this address', { retryAfterMs: wait });
    }
    if (this.invite !== undefined && !secretEquals(invite, this.invite)) {
      this.log.warn(`session refused for ${ip}: ${ErrorCodes.UNAUTHORIZED} (${invite === undefined ? 'no' : 'wrong'} invite)`);
      throw new DuelError(ErrorCodes.UNAUTHORIZED, invite === undefined ? 'this run needs an invite token' : 'wrong invite token');
    }
    this.issued++;
    return this.sign(randomBytes(12).toString('base64url'), now + this.ttlMs);
  }

  /** Signs a session; exported for tests that need an expired one. */
  sign(sessionId: string, expiresAt: number): VolunteerSession {
    const body = `${PREFIX}.${sessionId}.${expiresAt.toString(36)}`;
    return { token: `${body}.${this.mac(body)}`, expiresAt };
  }

  /** Verifies a token: UNAUTHORIZED when missing, malformed or forged; SESSION_EXPIRED when past its expiry. */
  verify(token: string | undefined, now = Date.now()): SessionClaims {
    if (typeof token !== 'string' || token.length === 0) throw new DuelError(ErrorCodes.UNAUTHORIZED, 'a volunteer needs a session token (POST /api/volunteer/session)');
    const parts = token.split('.');
    if (parts.length !== 4 || parts[0] !== PREFIX || !/^[A-Za-z0-9_-]{1,32}$/.test(parts[1]) || !/^[0-9a-z]{1,12}$/.test(parts[2])) {
      throw new DuelError(ErrorCodes.UNAUTHORIZED, 'malformed session token');
    }
    const body = parts.slice(0, 3).join('.');
    if (!secretEquals(parts[3], this.mac(body))) throw new DuelError(ErrorCodes.UNAUTHORIZED, 'session token signature does not verify');
    // Checked after the signature, so a forged token never learns whether its expiry parsed.
    const expiresAt = parseInt(parts[2], 36);
    if (!(expiresAt > now)) throw new DuelError(ErrorCodes.SESSION_EXPIRED, `session expired ${Math.round((now - expiresAt) / 1000)} s ago`);
    return { sessionId: parts[1], expiresAt };
  }

  /** Sessions issued since start (for metrics and tests). */
  get count(): number {
    return this.issued;
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}

/** Constant-time comparison of secrets; hashing first equalises lengths. */
export function secretEquals(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
