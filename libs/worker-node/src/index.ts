export { runWorker, type RunWorkerOptions, type WorkerHandle } from './run-worker';
export { parseWorkerArgs, workerCommand } from './worker.command';
export { parseAttacks, ATTACK_ENV, type AttackPlan } from './attacker';
export { ATTACKS, alie, alieZ, applyAttack, attackFor, type AttackName } from './attack-math';
