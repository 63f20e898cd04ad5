import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { CoordinatorService } from './coordinator.service';

/**
 * Readiness hook for the state store (libs/store). The module provides an
 * always-healthy default; a coordinator backed by Redis binds its store here
 * (`{ provide: STORE_HEALTH, useValue: store }`): `StateStore.ping()` fits.
 * `ping` resolving false or rejecting makes /readyz answer 503.
 */
export const STORE_HEALTH = Symbol('STORE_HEALTH');

export interface StoreHealth {
  /** Where the state lives, for the probe's body (e.g. "memory", "redis://redis:6379"). */
  readonly location?: string;
  ping(): Promise<boolean | void>;
}

export const IN_PROCESS_STORE: StoreHealth = { location: 'memory', ping: async () => true };

/** A probe that takes longer than this counts as down (the kubelet's own timeout is 1-5 s). */
export const STORE_PING_TIMEOUT_MS = 1_500;

/**
 * GET /healthz (liveness) and GET /readyz (readiness) through @nestjs/terminus:
 * 200 `{status: 'ok', info, details}` or 503 `{status: 'error', error, details}`.
 * Liveness checks only this process (the round machine answers), so a Redis
 * outage never restarts the coordinator; readiness adds the store.
 */
@Controller()
export class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HealthIndicatorService) private readonly indicator: HealthIndicatorService,
    @Inject(CoordinatorService) private readonly svc: CoordinatorService,
    @Inject(STORE_HEALTH) private readonly store: StoreHealth,
  ) {}

  @Get('healthz')
  @HealthCheck({ swaggerDocumentation: false })
  liveness() {
    return this.health.check([() => this.coordinator()]);
  }

  @Get('readyz')
  @HealthCheck({ swaggerDocumentation: false })
  readiness() {
    return this.health.check([() => this.coordinator(), () => this.storeCheck()]);
  }

  private coordinator(): HealthIndicatorResult {
    const session = this.indicator.check('coordinator');
    try {
      return session.up({ runId: this.svc.runId, step: this.svc.state.step, phase: this.svc.phase(), state: this.svc.runState() });
    } catch (e) {
      return session.down({ message: (e as Error).message });
    }
  }

  private async storeCheck(): Promise<HealthIndicatorResult> {
    const session = this.indicator.check('store');
    const location = this.store.location ?? 'unknown';
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), STORE_PING_TIMEOUT_MS)));
      const ok = await Promise.race([this.store.ping(), timeout]);
      if (ok === 'timeout') return session.down({ location, message: `no answer within ${STORE_PING_TIMEOUT_MS} ms` });
      return ok === false ? session.down({ location, message: 'ping failed' }) : session.up({ location });
    } catch (e) {
      return session.down({ location, message: (e as Error).message });
    } finally {
      clearTimeout(timer);
    }
  }
}
