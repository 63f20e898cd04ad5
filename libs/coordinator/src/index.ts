export { startCoordinator, type RunningCoordinator } from './bootstrap';
export { defaultCoordinatorOptions, type CoordinatorOptions } from './coordinator.options';
export { CoordinatorService } from './coordinator.service';
