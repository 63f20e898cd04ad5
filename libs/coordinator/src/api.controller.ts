import { Controller, Get, Header, HttpException, Inject, Query } from '@nestjs/common';
import { ErrorCodes } from '@duel/util';
import { CoordinatorService } from './coordinator.service';
import { MetricsService } from './metrics.service';
import { STATUS_PAGE } from './status-page';

const MAX_SAMPLES = 10_000;

/** The HTTP API of SYSTEM.md: status, samples, health and metrics. Reads only. */
@Controller()
export class ApiController {
  constructor(
    @Inject(CoordinatorService) private readonly svc: CoordinatorService,
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  index(): string {
    return STATUS_PAGE;
  }

  @Get('api/status')
  status() {
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
      workers: this.svc.workerStats().map(({ rejectedByCode: _r, connected: _c, ...w }) => w),
    };
  }

  @Get('api/history')
  history() {
    return { history: this.svc.recorder.history, quality: this.svc.qualityHistory };
  }

  @Get('api/samples')
  async samples(@Query('n') n?: string, @Query('seed') seed?: string) {
    const count = n === undefined ? 256 : Number(n);
    if (!Number.isInteger(count) || count < 1 || count > MAX_SAMPLES) {
      throw new HttpException({ code: ErrorCodes.BAD_ARGUMENT, message: `n must be an integer in [1, ${MAX_SAMPLES}]` }, 400);
    }
    const s = seed === undefined ? 1 : Number(seed);
    if (!Number.isInteger(s) || s < 0) throw new HttpException({ code: ErrorCodes.BAD_ARGUMENT, message: 'seed must be a non-negative integer' }, 400);
    const flat = await this.svc.samples(count, s);
    const shape = this.svc.layoutDataShape();
    const per = shape.reduce((a, b) => a * b, 1);
    const samples: number[][] = [];
    for (let i = 0; i < count; i++) samples.push(Array.from(flat.subarray(i * per, (i + 1) * per)));
    return { n: count, shape, version: this.svc.state.versions.G, samples };
  }

  @Get('healthz')
  healthz() {
    return { status: 'ok' };
  }

  @Get('readyz')
  readyz() {
    return { status: 'ok', step: this.svc.state.step };
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async metricsText(): Promise<string> {
    return this.metrics.text();
  }
}
