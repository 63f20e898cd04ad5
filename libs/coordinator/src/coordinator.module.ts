import { Module, type DynamicModule } from '@nestjs/common';
import { ApiController } from './api.controller';
import { COORDINATOR_OPTIONS, type CoordinatorOptions } from './coordinator.options';
import { CoordinatorService } from './coordinator.service';
import { MetricsService } from './metrics.service';
import { RoundsGateway } from './rounds.gateway';
import { WorkerConnections } from './worker-connections';

@Module({})
export class CoordinatorModule {
  static forRoot(opts: CoordinatorOptions): DynamicModule {
    return {
      module: CoordinatorModule,
      controllers: [ApiController],
      providers: [
        { provide: COORDINATOR_OPTIONS, useValue: opts },
        WorkerConnections,
        MetricsService,
        CoordinatorService,
        RoundsGateway,
      ],
    };
  }
}
