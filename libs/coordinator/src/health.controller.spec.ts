import 'reflect-metadata';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CoordinatorService } from './coordinator.service';
import { HealthController, STORE_HEALTH, STORE_PING_TIMEOUT_MS, type StoreHealth } from './health.controller';

/** The controller on a real HTTP server, with a stub coordinator and the given store. */
async function serve(store: StoreHealth, svc: Partial<CoordinatorService> = {}): Promise<{ app: INestApplication; url: string }> {
  const coordinator = { runId: 'run-test', state: { step: 7 }, phase: () => 'G', runState: () => 'training', ...svc };
  @Module({
    imports: [TerminusModule.forRoot({ logger: false })],
    controllers: [HealthController],
    providers: [
      { provide: CoordinatorService, useValue: coordinator },
      { provide: STORE_HEALTH, useValue: store },
    ],
  })
  class HealthTestModule {}
  const app = await NestFactory.create(HealthTestModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  return { app, url: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}` };
}

const apps: INestApplication[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

async function get(url: string): Promise<{ status: number; body: Record<string, any> }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await fetch(url);
  return { status: r.status, body: (await r.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe('HealthController (/healthz, /readyz via @nestjs/terminus)', () => {
  it('is live and ready when the store pings', async () => {
    const s = await serve({ location: 'redis://r:6379', ping: async () => true });
    apps.push(s.app);
    const live = await get(`${s.url}/healthz`);
    expect(live.status).toBe(200);
    expect(live.body.details.coordinator).toMatchObject({ status: 'up', runId: 'run-test', step: 7, phase: 'G' });
    expect(live.body.details.store).toBeUndefined();
    const ready = await get(`${s.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body.details.store).toEqual({ status: 'up', location: 'redis://r:6379' });
  });

  const down: [string, StoreHealth, RegExp][] = [
    ['rejects', { ping: () => Promise.reject(new Error('ECONNREFUSED')) }, /ECONNREFUSED/],
    ['answers false', { ping: async () => false }, /ping failed/],
    ['hangs', { ping: () => new Promise<boolean>(() => undefined) }, new RegExp(`no answer within ${STORE_PING_TIMEOUT_MS} ms`)],
  ];
  it.each(down)('is not ready (503) but still live when the store %s', async (_what, store, message) => {
    const s = await serve({ location: 'redis://r:6379', ...store });
    apps.push(s.app);
    const ready = await get(`${s.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.body.status).toBe('error');
    expect(ready.body.error.store.message).toMatch(message);
    expect(ready.body.info.coordinator.status).toBe('up');
    expect((await get(`${s.url}/healthz`)).status).toBe(200);
  });

  it('is not live when the coordinator cannot answer', async () => {
    const s = await serve({ ping: async () => true }, { phase: () => { throw new Error('round machine gone'); } });
    apps.push(s.app);
    const live = await get(`${s.url}/healthz`);
    expect(live.status).toBe(503);
    expect(live.body.error.coordinator.message).toBe('round machine gone');
  });
});
