import { tf } from '@duel/gan';
import { isDuelError } from '@duel/util';

const usage = `duel: distributed GAN training over WebSockets

  duel start [--dataset ring8] [--workers 2] [--steps N] [--port 8080] [--exit]
      coordinator + N local workers, dashboard URL, progress bar, quality table
  duel coordinator [--port 8080] [--dataset ring8] [--mode sync|async] [--shards N|auto]
      [--data-dir DIR | --redis URL [--store-prefix P]] [--checkpoint-every N] [--checkpoint-secs T] [--resume]
      the parameter server alone; workers join over /ws; resumes the store's running run
  duel worker --coordinator ws://HOST:PORT/ws [--token T] [--backend auto|tensorflow|webgpu|wasm|cpu]
      [--metrics-port P] [--grace-ms MS] [--log-level L]   (/metrics, /healthz, /readyz on P)
  duel train --dataset D --workers N --steps S --seed X [--eval-every N] [--json]
      headless distributed run; the last stdout line is the JSON summary
  duel local --dataset D --steps S --seed X [--k K] [--loss L] [--shards N] [--eval-every N] [--json]
      the single-process reference trainer
  duel export --checkpoint DIR --out DIR [--raw]   (or --redis URL [--store-prefix P])
      G of the newest good checkpoint as a tfjs LayersModel (model.json + weights.bin)

Run options (start, coordinator, train, local): --model mlp2d|mlp|dcgan --batch B --k K
  --loss nonsaturating|minimax|hinge --lr-d --lr-g --lr-decay none|linear --lr-floor F --g-ema B --pack M --minibatch-std --top-k NU
  --latent-dim N, and for mlp2d: --hidden W --data-scale S
Coordinator options (start, coordinator, train): --codec fp32|fp16|int8|topk[:ratio] (gradient codec asked of workers)
  --validate-volunteers[=TOL] (each volunteer shard computed by two volunteers, used only if they agree)
`;

type Command = (argv: string[]) => Promise<number>;

/*
 * Each command's module is loaded when it runs, not at start-up: `duel worker`
 * then never loads NestJS, the coordinator, the store drivers or the local
 * trainer (about 0.7 s of a worker's start on this 2-core VM, BENCHMARKS.md
 * figure 4). A synchronous require keeps every module in the one CommonJS
 * cache that tsx's hook fills.
 */
const commands: Record<string, () => Command> = {
  start: () => (require('./commands/start.command') as typeof import('./commands/start.command')).startCommand,
  coordinator: () => (require('./commands/coordinator.command') as typeof import('./commands/coordinator.command')).coordinatorCommand,
  train: () => (require('./commands/train.command') as typeof import('./commands/train.command')).trainCommand,
  worker: () => (require('@duel/worker-node') as typeof import('@duel/worker-node')).workerCommand,
  local: () => (require('./commands/local.command') as typeof import('./commands/local.command')).localCommand,
  export: () => (require('./commands/export.command') as typeof import('./commands/export.command')).exportCommand,
};

// Production mode: skips tfjs's debug checks and its "install tfjs-node" banner,
// which would break the one-JSON-line-per-event logs (tfjs-node cannot be installed here).
tf.env().set('PROD', true);

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (!cmd || cmd === '--help' || cmd === 'help') {
    process.stdout.write(usage);
    return cmd ? 0 : 2;
  }
  const load = Object.hasOwn(commands, cmd) ? commands[cmd] : undefined;
  if (!load) {
    process.stderr.write(`duel: unknown command "${cmd}"; available: ${Object.keys(commands).join(', ')}\n`);
    return 2;
  }
  return load()(rest);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (isDuelError(e)) {
      process.stderr.write(`duel: ${e.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`duel: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
