import { isDuelError } from '@duel/util';
import { workerCommand } from '@duel/worker-node';

// Stand-alone entry (container images): `node --import tsx apps/worker/src/main.ts --coordinator ws://…`.
// `duel worker` in apps/cli runs the same workerCommand.
workerCommand(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), level: 'error', event: 'exit', message: isDuelError(e) ? e.message : String(e) })}\n`);
    process.exitCode = isDuelError(e) ? 2 : 1;
  },
);
