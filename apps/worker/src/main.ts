import { isDuelError } from '@duel/util';
import { workerCommand } from '@duel/worker-node';

// Stand-alone entry (container images): `node --import tsx apps/worker/src/main.ts --coordinator ws://…`.
// `duel worker` in apps/cli runs the same workerCommand.
workerCommand(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const msg = isDuelError(e) ? e.message : String(e);
    // The shape of @duel/util logFormat, like the worker's other log lines.
    process.stderr.write(`${JSON.stringify({ level: 'error', time: new Date().toISOString(), service: 'duel-worker', event: 'exit', msg })}\n`);
    process.exitCode = isDuelError(e) ? 2 : 1;
  },
);
