import { Inject, Injectable, Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { ErrorCodes } from '@duel/util';
import { COORDINATOR_OPTIONS, type CoordinatorOptions } from './coordinator.options';
import { httpError } from './http-error';
import { MetricsService } from './metrics.service';
import { secretEquals } from './volunteer-sessions';

/**
 * Guards dashboard controls: `Authorization: Bearer <DUEL_ADMIN_TOKEN>`,
 * compared in constant time. Without DUEL_ADMIN_TOKEN the controls are off
 * (403); a missing or wrong bearer, a volunteer session token included, is
 * 401 DUEL_ERR_UNAUTHORIZED. Every refusal is logged and counted.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  private readonly log = new Logger('AdminGuard');

  constructor(
    @Inject(COORDINATOR_OPTIONS) private readonly opts: CoordinatorOptions,
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<IncomingMessage>();
    const remote = req.socket?.remoteAddress ?? 'unknown';
    if (!this.opts.adminToken) return this.refuse(403, remote, 'admin controls are off: the coordinator has no DUEL_ADMIN_TOKEN');
    const auth = req.headers?.authorization;
    const m = typeof auth === 'string' ? /^Bearer (.+)$/.exec(auth) : null;
    if (!m || !secretEquals(m[1], this.opts.adminToken)) return this.refuse(401, remote, 'admin controls need Authorization: Bearer <DUEL_ADMIN_TOKEN>');
    return true;
  }

  private refuse(status: number, remote: string, message: string): never {
    this.metrics.rejections.inc({ code: ErrorCodes.UNAUTHORIZED });
    this.log.warn(`admin request from ${remote} refused (${status}): ${ErrorCodes.UNAUTHORIZED}`);
    throw httpError(status, ErrorCodes.UNAUTHORIZED, message);
  }
}
