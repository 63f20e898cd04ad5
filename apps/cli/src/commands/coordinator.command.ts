import { startCoordinator } from '@duel/coordinator';
import { parse } from '../args';
import { coordinatorFlags, coordinatorOptionsFrom } from '../coordinator.flags';

/** `duel coordinator`: the parameter server alone; workers join it over /ws. */
export async function coordinatorCommand(argv: string[]): Promise<number> {
  const a = parse(argv, { ...coordinatorFlags });
  // Without --resume, a store that holds a running run is resumed anyway ('auto').
  const opts = coordinatorOptionsFrom(a, { host: (a.host as string | undefined) ?? '0.0.0.0', resume: a.resume === true ? true : 'auto' });
  const c = await startCoordinator(opts, ['log', 'error', 'warn']);
  const step = c.service.state.step;
  const resumed = step > 0 ? `, resumed at step ${step}` : '';
  process.stderr.write(`duel: coordinator ${c.service.runId} on ${c.url} (workers: ${c.wsUrl}); dashboard ${c.url}/${resumed}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await c.close();
  return 0;
}
