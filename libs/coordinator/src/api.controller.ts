import { Body, Controller, Get, Header, HttpCode, Inject, Post, Query, Req } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { HistoryResponse, StatusResponse } from '@duel/api-types';
import { DuelError, ErrorCodes } from '@duel/util';
import { CoordinatorService } from './coordinator.service';
import { httpError, httpErrorOf } from './http-error';
import { MetricsService } from './metrics.service';
import { VolunteerSessions } from './volunteer-sessions';

const MAX_SAMPLES = 10_000;

/** The HTTP API of SYSTEM.md: status, samples and metrics (health: health.controller.ts). */
@Controller()
export class ApiController {
  constructor(
    @Inject(CoordinatorService) private readonly svc: CoordinatorService,
    @Inject(MetricsService) private readonly metrics: MetricsService,
    @Inject(VolunteerSessions) private readonly sessions: VolunteerSessions,
  ) {}

  @Get('api/status')
  status(): StatusResponse {
    const { opts, state } = this.svc;
    return {
      run: {
        id: this.svc.runId,
        dataset: opts.run.dataset,
        model: opts.run.model,
        step: state.step,
        steps: opts.run.steps,
        phase: this.svc.phase(),
        versions: { g: state.versions.G, d: state.versions.D },
        state: this.svc.runState(),
        mode: opts.mode,
        config: opts.run,
      },
      metrics: this.svc.recorder.latest,
      quality: this.svc.quality,
      // Each worker's ledger: results, accepted, rejected (and by code), samples, credit.
      workers: this.svc.workerStats().map(({ connected: _c, ...w }) => w),
    };
  }

  /** A short-lived volunteer session: body `{ invite?: string }` → `{ token, expiresAt }` (401 wrong invite, 429 too many requests). */
  @Post('api/volunteer/session')
  @HttpCode(201)
  volunteerSession(@Body() body: unknown, @Req() req: IncomingMessage) {
    const b = (body ?? {}) as Record<string, unknown>;
    const invite = Object.prototype.hasOwnProperty.call(b, 'invite') ? b.invite : undefined;
    if (typeof b !== 'object' || Array.isArray(b) || (invite !== undefined && (typeof invite !== 'string' || invite.length > 4096))) {
      throw httpError(400, ErrorCodes.BAD_ARGUMENT, 'body must be { invite?: string }');
    }
    const ip = req.socket?.remoteAddress ?? 'unknown';
    try {
      return this.sessions.issue(ip, invite as string | undefined);
    } catch (e) {
      if (!(e instanceof DuelError)) throw e;
      this.metrics.rejections.inc({ code: e.code });
      const status = e.code === ErrorCodes.RATE_LIMITED ? 429 : 401;
      const retryAfterMs = e.details?.retryAfterMs as number | undefined;
      throw httpErrorOf(e, status, retryAfterMs !== undefined ? { retryAfterMs } : {});
    }
  }

  @Get('api/history')
  history(): HistoryResponse {
    return { history: this.svc.recorder.history, quality: this.svc.qualityHistory };
  }

  @Get('api/samples')
  async samples(@Query('n') n?: string, @Query('seed') seed?: string) {
    const count = n === undefined ? 256 : Number(n);
    if (!Number.isInteger(count) || count < 1 || count > MAX_SAMPLES) {
      throw httpError(400, ErrorCodes.BAD_ARGUMENT, `n must be an integer in [1, ${MAX_SAMPLES}]`);
    }
    const s = seed === undefined ? 1 : Number(seed);
    if (!Number.isInteger(s) || s < 0) throw httpError(400, ErrorCodes.BAD_ARGUMENT, 'seed must be a non-negative integer');
    const flat = await this.svc.samples(count, s);
    const shape = this.svc.layoutDataShape();
    const per = shape.reduce((a, b) => a * b, 1);
    const samples: number[][] = [];
    for (let i = 0; i < count; i++) samples.push(Array.from(flat.subarray(i * per, (i + 1) * per)));
    return { n: count, shape, version: this.svc.state.versions.G, samples };
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async metricsText(): Promise<string> {
    return this.metrics.text();
  }
}
