import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHmac, randomBytes } from 'node:crypto';
import { COORDINATOR_OPTIONS, type CoordinatorOptions } from './coordinator.options';
import { RECOVERY, type Recovery } from './recovery.token';
import { secretEquals } from './volunteer-sessions';

/** Bytes of a random resume key (HMAC-SHA256 gains nothing from a longer one). */
const KEY_BYTES = 32;
/** Domain separation: the MAC input of a resume token, so it can never pass for another HMAC of this key. */
const TOKEN_DOMAIN = 'duel-resume/1\0';
/** The label DUEL_SESSION_SECRET is HMAC'd with; VolunteerSessions hashes the bare secret, so the two keys are independent. */
const KEY_LABEL = 'duel-resume-key/1';

/** Where the resume key came from (logged and tested; never the key itself). */
export type ResumeKeySource = 'secret' | 'checkpoint' | 'random';

/**
 * Proof of a workerId for `hello.resume` (PROTOCOL.md §4, issue #7): the
 * welcome carries `resumeToken = base64url(HMAC-SHA256(key, "duel-resume/1\0" + workerId))`,
 * and a resume is honoured only with that token, compared in constant time.
 * Stateless, so a restarted coordinator verifies tokens it issued before as
 * long as it holds the same key: derived from DUEL_SESSION_SECRET when set,
 * else 32 random bytes drawn at a fresh run start and carried in the
 * checkpoint meta (`resumeKey`), which a resumed run reads back.
 */
@Injectable()
export class WorkerIdentity {
  private readonly log = new Logger('WorkerIdentity');
  // ES private fields are not enumerable: no JSON.stringify or inspect of this object shows the key.
  readonly #key: Buffer;
  readonly #persisted: string | undefined;
  readonly source: ResumeKeySource;

  constructor(
    @Inject(COORDINATOR_OPTIONS) opts: Pick<CoordinatorOptions, 'sessionSecret'>,
    @Inject(RECOVERY) recovery: Pick<Recovery, 'resumed'>,
  ) {
    if (opts.sessionSecret) {
      this.#key = createHmac('sha256', opts.sessionSecret).update(KEY_LABEL).digest();
      this.source = 'secret';
      // Derived again at every start: a checkpoint never holds secret-derived material.
      this.#persisted = undefined;
      return;
    }
    const saved = recovery.resumed ? decodeKey(recovery.resumed.meta.resumeKey) : null;
    if (recovery.resumed && !saved) {
      this.log.warn(`the checkpoint of run ${recovery.resumed.runId} holds no usable resume key: workers that reconnect get new ids`);
    }
    this.#key = saved ?? randomBytes(KEY_BYTES);
    this.source = saved ? 'checkpoint' : 'random';
    this.#persisted = this.#key.toString('base64url');
  }

  /** The token `welcome.resumeToken` carries for `workerId`. */
  tokenFor(workerId: string): string {
    return createHmac('sha256', this.#key).update(TOKEN_DOMAIN + workerId).digest('base64url');
  }

  /** True when `token` is the resume token of `workerId` under this coordinator's key (constant time). */
  verify(workerId: string, token: unknown): boolean {
    return typeof token === 'string' && token.length > 0 && secretEquals(token, this.tokenFor(workerId));
  }

  /**
   * The key as the checkpoint meta stores it (`resumeKey`, base64url), or
   * undefined when it derives from DUEL_SESSION_SECRET. Only the checkpointer
   * may call this; it must never reach an HTTP answer or a log line.
   */
  checkpointKey(): string | undefined {
    return this.#persisted;
  }
}

/** A persisted key back to bytes; null when absent or not exactly KEY_BYTES of base64url. */
function decodeKey(saved: unknown): Buffer | null {
  if (typeof saved !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(saved)) return null;
  const key = Buffer.from(saved, 'base64url');
  return key.length === KEY_BYTES ? key : null;
}
