import { Controller, Get, Header, Inject, Logger, Param, Res, Sse, type MessageEvent } from '@nestjs/common';
import { defer, interval, map, startWith, type Observable } from 'rxjs';
import type { ModelInfo } from '@duel/api-types';
import { encodeFrame } from '@duel/protocol';
import { samplingWeights } from '@duel/trainer';
import { ErrorCodes } from '@duel/util';
import { CoordinatorService } from './coordinator.service';
import { DashboardFeed } from './dashboard-feed';
import { httpError } from './http-error';

/** How often the dashboard feed sends a tick. */
export const FEED_INTERVAL_MS = 500;
/**
 * While someone watches, the quality report (2,500 samples, SYSTEM.md) is
 * refreshed this often for 2-D datasets, so the quality chart has a line; it
 * costs a few ms of the coordinator's time. Image datasets' scores need 10k
 * samples through a classifier, so they stay with the end-of-run report.
 */
export const QUALITY_EVERY_MS = 10_000;
/** EventSource reconnect delay the feed asks for (the browser's default is ~3 s). */
const RETRY_MS = 1_000;

/** The slice of express's response used here (@types/express is not a dependency). */
interface BinaryResponse {
  setHeader(name: string, value: string): void;
  end(body: Uint8Array): void;
}

/**
 * The dashboard's read-only data: a live feed over Server-Sent Events, the
 * model spec, and G's sampling weights as one msgpack `weights` frame (the
 * same codec the workers use), so the page renders samples itself with tfjs.
 */
@Controller('api')
export class DashboardController {
  private readonly log = new Logger('Dashboard');
  private weightsCache: { version: number; bytes: Uint8Array } | null = null;
  private lastQuality = { t: 0, version: -1 };

  constructor(@Inject(CoordinatorService) private readonly svc: CoordinatorService) {}

  /** `snapshot` first (with the whole history), then a `tick` every FEED_INTERVAL_MS with the new points. */
  @Sse('events')
  events(): Observable<MessageEvent> {
    return defer(() => {
      const feed = new DashboardFeed(this.svc);
      return interval(FEED_INTERVAL_MS).pipe(
        startWith(-1),
        map(() => {
          this.refreshQuality();
          const msg = feed.next();
          return { type: msg.kind, data: msg, retry: RETRY_MS };
        }),
      );
    });
  }

  private refreshQuality(): void {
    const now = Date.now();
    const version = this.svc.state.versions.G;
    const shape = this.svc.layoutDataShape();
    if (shape.length !== 1 || shape[0] !== 2 || version === this.lastQuality.version || now - this.lastQuality.t < QUALITY_EVERY_MS) return;
    this.lastQuality = { t: now, version };
    this.svc.evaluate().catch((e: Error) => this.log.warn(`quality evaluation failed: ${e.message}`));
  }

  /** The run's model spec (what the welcome frame carries) and data shape. */
  @Get('model')
  model(): ModelInfo {
    return { run: this.svc.runId, dataset: this.svc.opts.run.dataset, spec: this.svc.modelSpec(), dataShape: this.svc.layoutDataShape() };
  }

  /** G's sampling weights (the EMA when the run keeps one) as a msgpack `weights` frame; X-Duel-Version is G's version. */
  @Get('weights/:net')
  @Header('Content-Type', 'application/octet-stream')
  @Header('Cache-Control', 'no-store')
  weights(@Param('net') net: string, @Res() res: BinaryResponse): void {
    if (net !== 'G') throw httpError(400, ErrorCodes.BAD_ARGUMENT, 'only G is served (D stays on the coordinator)');
    const version = this.svc.state.versions.G;
    if (this.weightsCache?.version !== version) {
      this.weightsCache = { version, bytes: encodeFrame({ t: 'weights', net: 'G', version, tensors: samplingWeights(this.svc.state) }) };
    }
    res.setHeader('X-Duel-Version', String(version));
    res.end(this.weightsCache.bytes);
  }
}
