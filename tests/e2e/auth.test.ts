import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCoordinatorOptions, startCoordinator, VolunteerSessions, type RunningCoordinator } from '@duel/coordinator';
import { resolveRunConfig } from '@duel/trainer';
import { tf } from '@duel/gan';
import { RawClient, is } from '../support/raw-client';

const WORKER_TOKEN = 'worker-s3cret';
const ADMIN_TOKEN = 'admin-s3cret';
const SECRET = 'session-key-for-this-test';
const INVITE = 'invite-xyz';

/**
 * Authentication against the real NestJS app: every refusal has its stable
 * code (and, on the socket, its close code); the right credentials get in.
 */
describe('auth (real coordinator, real sockets and HTTP)', () => {
  let c: RunningCoordinator;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    const run = resolveRunConfig({ dataset: 'ring8', steps: 50, batchSize: 16, hidden: 8, seed: 3 });
    c = await startCoordinator(
      defaultCoordinatorOptions(run, {
        port: 0,
        shards: 1,
        workerToken: WORKER_TOKEN,
        adminToken: ADMIN_TOKEN,
        sessionSecret: SECRET,
        volunteerInvite: INVITE,
        sessionRate: { burst: 4, perSecond: 0.01 },
      }),
    );
  });

  afterAll(async () => {
    await c?.close();
  });

  const refusedWith = async (hello: Parameters<RawClient['hello']>[0]) => {
    const w = await RawClient.connect(c.wsUrl);
    w.hello(hello);
    const err = await w.next(is('error'));
    return { code: err.code, fatal: err.fatal, close: (await w.closedWith()).code };
  };

  const session = (body: unknown) =>
    fetch(`${c.url}/api/volunteer/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('refuses a node worker with no token: DUEL_ERR_UNAUTHORIZED, close 4401', async () => {
    expect(await refusedWith({ kind: 'node' })).toEqual({ code: 'DUEL_ERR_UNAUTHORIZED', fatal: true, close: 4401 });
  });

  it('refuses a node worker with a wrong token: DUEL_ERR_UNAUTHORIZED, close 4401', async () => {
    expect(await refusedWith({ kind: 'node', token: `${WORKER_TOKEN}x` })).toEqual({ code: 'DUEL_ERR_UNAUTHORIZED', fatal: true, close: 4401 });
  });

  it('admits a node worker with the right token', async () => {
    const w = await RawClient.connect(c.wsUrl);
    w.hello({ kind: 'node', token: WORKER_TOKEN });
    expect((await w.next(is('welcome'))).workerId).toMatch(/^w-/);
    w.close();
  });

  it('refuses a volunteer without a session, and one presenting the worker token', async () => {
    expect(await refusedWith({ kind: 'volunteer' })).toEqual({ code: 'DUEL_ERR_UNAUTHORIZED', fatal: true, close: 4401 });
    expect(await refusedWith({ kind: 'volunteer', token: WORKER_TOKEN })).toEqual({ code: 'DUEL_ERR_UNAUTHORIZED', fatal: true, close: 4401 });
  });

  it('refuses a session request without the run\'s invite (401 DUEL_ERR_UNAUTHORIZED), and a malformed body (400)', async () => {
    const none = await session({});
    expect(none.status).toBe(401);
    expect(((await none.json()) as { code: string }).code).toBe('DUEL_ERR_UNAUTHORIZED');
    const wrong = await session({ invite: 'nope' });
    expect(wrong.status).toBe(401);
    const bad = await session({ invite: 42 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe('DUEL_ERR_BAD_ARGUMENT');
  });

  let volunteerToken = '';
  it('issues a session with the invite, and a volunteer with it gets in', async () => {
    const res = await session({ invite: INVITE });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { token: string; expiresAt: number };
    expect(body.expiresAt).toBeGreaterThan(Date.now());
    volunteerToken = body.token;
    const w = await RawClient.connect(c.wsUrl);
    w.hello({ kind: 'volunteer', token: volunteerToken });
    expect((await w.next(is('welcome'))).workerId).toMatch(/^w-/);
    w.close();
  });

  it('refuses an expired volunteer session: DUEL_ERR_SESSION_EXPIRED, close 4440', async () => {
    const signer = new VolunteerSessions(defaultCoordinatorOptions(resolveRunConfig({ dataset: 'ring8' }), { sessionSecret: SECRET }));
    const expired = signer.sign('expired-session', Date.now() - 1000).token;
    expect(await refusedWith({ kind: 'volunteer', token: expired })).toEqual({ code: 'DUEL_ERR_SESSION_EXPIRED', fatal: true, close: 4440 });
    // The same session, signed with another key, is a forgery, not an expiry.
    const forged = new VolunteerSessions(defaultCoordinatorOptions(resolveRunConfig({ dataset: 'ring8' }), { sessionSecret: 'other' })).sign('x', Date.now() + 60_000).token;
    expect(await refusedWith({ kind: 'volunteer', token: forged })).toEqual({ code: 'DUEL_ERR_UNAUTHORIZED', fatal: true, close: 4401 });
  });

  it('refuses a volunteer that attempts admin controls with its session token (401 DUEL_ERR_UNAUTHORIZED)', async () => {
    expect(volunteerToken).not.toBe('');
    for (const headers of [{ authorization: `Bearer ${volunteerToken}` }, {} as Record<string, string>, { authorization: `Bearer ${WORKER_TOKEN}` }]) {
      const res = await fetch(`${c.url}/api/control`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ action: 'pause' }) });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe('DUEL_ERR_UNAUTHORIZED');
    }
    const status = (await (await fetch(`${c.url}/api/status`)).json()) as { run: { state: string } };
    expect(status.run.state).not.toBe('paused');
  });

  it('rate-limits session requests per IP: 429 DUEL_ERR_RATE_LIMITED with retryAfterMs', async () => {
    let last: Response | undefined;
    for (let i = 0; i < 6; i++) last = await session({ invite: INVITE });
    expect(last!.status).toBe(429);
    const body = (await last!.json()) as { code: string; retryAfterMs: number };
    expect(body.code).toBe('DUEL_ERR_RATE_LIMITED');
    expect(body.retryAfterMs).toBeGreaterThan(0);
  });

  it('counts the refusals by code in /metrics', async () => {
    const text = await (await fetch(`${c.url}/metrics`)).text();
    for (const code of ['DUEL_ERR_UNAUTHORIZED', 'DUEL_ERR_SESSION_EXPIRED', 'DUEL_ERR_RATE_LIMITED']) {
      expect(text).toMatch(new RegExp(`duel_rejections_total\\{code="${code}"\\} [1-9]`));
    }
  });
});
