export { startCoordinator, type RunningCoordinator } from './bootstrap';
export { defaultCoordinatorOptions, type CoordinatorOptions } from './coordinator.options';
export { CoordinatorService } from './coordinator.service';
export { VolunteerSessions, secretEquals, type VolunteerSession } from './volunteer-sessions';
export { AdminGuard } from './admin.guard';
export { checkpointOf, trainingStateOf, CHECKPOINT_KIND, type CoordinatorCheckpointMeta } from './checkpoint-mapping';
export { frameParser } from './message-parser';
export { RoundsGateway, type ParsedMessage } from './rounds.gateway';
export { ConnectionGuard } from './connection-guard';
