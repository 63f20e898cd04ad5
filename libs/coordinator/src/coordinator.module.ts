import { Module, type DynamicModule, type LogLevel } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { AdminGuard } from './admin.guard';
import { ApiController } from './api.controller';
import { ConnectionGuard } from './connection-guard';
import { ControlController } from './control.controller';
import { COORDINATOR_OPTIONS, type CoordinatorOptions } from './coordinator.options';
import { CoordinatorService } from './coordinator.service';
import { DashboardController } from './dashboard.controller';
import { DatasetController } from './dataset.controller';
import { HealthController, IN_PROCESS_STORE, STORE_HEALTH } from './health.controller';
import { coordinatorLoggerModule, RunLogContext } from './logging';
import { MetricsService } from './metrics.service';
import { RoundsGateway } from './rounds.gateway';
import { VolunteerSessions } from './volunteer-sessions';
import { WebController } from './web.controller';
import { WorkerConnections } from './worker-connections';
import { WorkerIdentity } from './worker-identity';

@Module({})
export class CoordinatorModule {
  static forRoot(opts: CoordinatorOptions, logLevels: LogLevel[] = ['error', 'warn']): DynamicModule {
    return {
      module: CoordinatorModule,
      imports: [TerminusModule.forRoot({ errorLogStyle: 'json' }), coordinatorLoggerModule(logLevels)],
      controllers: [ApiController, HealthController, DashboardController, DatasetController, ControlController, WebController],
      providers: [
        { provide: COORDINATOR_OPTIONS, useValue: opts },
        // Readiness of the state store (/readyz); a Redis-backed coordinator binds its StateStore here.
        { provide: STORE_HEALTH, useValue: IN_PROCESS_STORE },
        RunLogContext,
        WorkerConnections,
        MetricsService,
        VolunteerSessions,
        WorkerIdentity,
        ConnectionGuard,
        AdminGuard,
        CoordinatorService,
        RoundsGateway,
      ],
    };
  }
}
