import { Body, Controller, HttpCode, Inject, Logger, Post, UseGuards } from '@nestjs/common';
import { createStrategyFromSpec } from '@duel/aggregation';
import { DuelError, ErrorCodes, isDuelError } from '@duel/util';
import { AdminGuard } from './admin.guard';
import { CoordinatorService } from './coordinator.service';
import { runSummary } from './dashboard-feed';
import { httpErrorOf } from './http-error';

/** Largest learning-rate multiplier a control may set. */
const MAX_LR_SCALE = 10;

/** Settings that only make sense at the start of a run: refused with CONTROL_UNSUPPORTED, not ignored. */
const FIXED = ['batchSize', 'model', 'dataset', 'loss', 'mode', 'pack', 'seed', 'steps', 'shards'] as const;

/**
 * Run controls: `POST /api/control` with `Authorization: Bearer <DUEL_ADMIN_TOKEN>`
 * (AdminGuard: 401 without it, 403 when the coordinator has no admin token).
 * Body: `{ action: 'pause' | 'resume' }` or
 * `{ action: 'set', k?, lr?: { D?, G? }, strategy? }`: k for the next schedule
 * position, lr as multipliers of the configured rates, strategy as a spec
 * string (`trimmed-mean:beta=0.2`) from the next round close. All-or-nothing:
 * a refused field changes nothing. Answers the run's settings after the change.
 */
@Controller('api')
@UseGuards(AdminGuard)
export class ControlController {
  private readonly log = new Logger('RunControls');

  constructor(@Inject(CoordinatorService) private readonly svc: CoordinatorService) {}

  @Post('control')
  @HttpCode(200)
  control(@Body() body: unknown) {
    try {
      this.apply(body);
    } catch (e) {
      if (!isDuelError(e)) throw e;
      const status = e.code === ErrorCodes.CONTROL_UNSUPPORTED ? 409 : 400;
      throw httpErrorOf(e, status);
    }
    return { ok: true, run: runSummary(this.svc) };
  }

  private apply(body: unknown): void {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('body must be a JSON object with an action');
    const b = body as Record<string, unknown>;
    if (this.svc.done) throw new DuelError(ErrorCodes.CONTROL_UNSUPPORTED, 'the run is complete');
    const fixed = FIXED.filter((f) => f in b);
    if (fixed.length) throw new DuelError(ErrorCodes.CONTROL_UNSUPPORTED, `${fixed.join(', ')} cannot change during a run (start a new run)`);
    switch (b['action']) {
      case 'pause':
      case 'resume':
        this.svc.control({ type: b['action'] === 'pause' ? 'Pause' : 'Resume' });
        this.log.log(`run ${b['action'] === 'pause' ? 'paused' : 'resumed'}`);
        return;
      case 'set':
        return this.set(b);
      default:
        throw bad(`action must be 'pause', 'resume' or 'set', got ${JSON.stringify(b['action'])}`);
    }
  }

  private set(b: Record<string, unknown>): void {
    const unknown = Object.keys(b).filter((key) => !['action', 'k', 'lr', 'strategy'].includes(key));
    if (unknown.length) throw bad(`unknown field(s) ${unknown.join(', ')}; 'set' takes k, lr {D, G}, strategy`);
    const k = b['k'];
    if (k !== undefined && !(typeof k === 'number' && Number.isInteger(k) && k >= 1 && k <= 100)) throw bad('k must be an integer in 1..100');
    const lr = b['lr'] === undefined ? {} : b['lr'];
    if (typeof lr !== 'object' || lr === null || Array.isArray(lr)) throw bad('lr must be { D?: number, G?: number } (multipliers of the configured rates)');
    const scales: Partial<Record<'D' | 'G', number>> = {};
    for (const [net, v] of Object.entries(lr as Record<string, unknown>)) {
      if (net !== 'D' && net !== 'G') throw bad(`lr.${net}: only D and G have learning rates`);
      if (!(typeof v === 'number' && v > 0 && v <= MAX_LR_SCALE)) throw bad(`lr.${net} must be a multiplier in (0, ${MAX_LR_SCALE}]`);
      scales[net] = v;
    }
    const spec = b['strategy'];
    if (spec !== undefined && (typeof spec !== 'string' || spec.length > 200)) throw bad('strategy must be a spec string, e.g. "median" or "trimmed-mean:beta=0.2"');
    // Build everything first (createStrategyFromSpec throws on an unknown name), then change state.
    const strategy = spec === undefined ? undefined : createStrategyFromSpec(spec);
    if (k === undefined && strategy === undefined && Object.keys(scales).length === 0) throw bad("'set' needs at least one of k, lr, strategy");
    if (k !== undefined || strategy !== undefined) this.svc.control({ type: 'Reconfigure', ...(k !== undefined ? { k } : {}), ...(strategy ? { strategy } : {}) });
    Object.assign(this.svc.lrScale, scales);
    this.log.log(`run settings: ${JSON.stringify({ k, lr: scales, strategy: spec })}`);
  }
}

function bad(message: string): DuelError {
  return new DuelError(ErrorCodes.BAD_ARGUMENT, message);
}
