import { Inject, Injectable, type DynamicModule, type LogLevel, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import pino, { type LevelWithSilent } from 'pino';
import { logFormat } from '@duel/util';
import { CoordinatorService } from './coordinator.service';

const NEST_TO_PINO: Record<LogLevel, LevelWithSilent> = {
  verbose: 'trace',
  debug: 'debug',
  log: 'info',
  warn: 'warn',
  error: 'error',
  fatal: 'fatal',
};
const ORDER: LevelWithSilent[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/**
 * The pino level matching Nest's list of enabled levels: the most verbose one
 * listed. `npm start` passes ['error', 'warn'], so its terminal (the progress
 * bar) only ever shows warnings and errors; `duel coordinator` adds 'log' (info).
 */
export function pinoLevelFor(levels: readonly LogLevel[]): LevelWithSilent {
  const mapped = levels.map((l) => NEST_TO_PINO[l]).filter(Boolean);
  if (mapped.length === 0) return 'silent';
  return ORDER[Math.min(...mapped.map((l) => ORDER.indexOf(l)))];
}

/**
 * The run whose id goes into every log line. Nest's static Logger and
 * nestjs-pino's root logger are both process-wide, so with several
 * coordinators in one process (tests only) the latest started one names the run.
 */
let activeRun: (() => string) | null = null;

/** Sets the run id context of the logs once the coordinator service exists. */
@Injectable()
export class RunLogContext implements OnModuleInit, OnModuleDestroy {
  private readonly runId = () => this.svc.runId;
  constructor(@Inject(CoordinatorService) private readonly svc: CoordinatorService) {}

  onModuleInit(): void {
    activeRun = this.runId;
  }

  onModuleDestroy(): void {
    if (activeRun === this.runId) activeRun = null;
  }
}

/**
 * Structured JSON logs (nestjs-pino) on stderr, so stdout stays for the CLI's
 * results (`duel train --json` prints its summary as the last stdout line).
 * HTTP requests log at debug (probes and the dashboard poll constantly), 4xx at
 * info (a browser asking for favicon.ico must not print on `npm start`) and 5xx at error.
 */
export function coordinatorLoggerModule(levels: readonly LogLevel[]): DynamicModule {
  return LoggerModule.forRoot({
    pinoHttp: [
      {
        ...logFormat('duel-coordinator'),
        level: pinoLevelFor(levels),
        mixin: () => (activeRun ? { runId: activeRun() } : {}),
        customLogLevel: (_req: IncomingMessage, res: ServerResponse, err?: Error) =>
          err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug',
        // Bodies and headers of requests are not logged: they may carry the admin token.
        serializers: {
          req: (req: { method?: string; url?: string }) => ({ method: req.method, url: req.url }),
          res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
        },
      },
      pino.destination({ fd: 2, sync: true }),
    ],
    renameContext: 'component',
  });
}
