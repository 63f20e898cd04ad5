/**
 * Figure 10 (load): 500 idle volunteer connections beside 2 working workers.
 * The coordinator runs in this process (so its RSS is this process's), 2 real
 * `duel worker` processes train ring8, and a child process holds the idle
 * volunteers (sessions, hello, pongs; they never get a task: the 2 workers
 * joined first and take both shards of every round, so the volunteers wait,
 * and waiting workers are parked: weights reach them only with a task).
 *
 * Measured side by side in one run: the round latency (ms per update, from
 * applied-update timestamps) with the 2 workers alone, then with the idle
 * volunteers connected; and the coordinator's RSS at each point.
 */
import { defaultCoordinatorOptions, startCoordinator } from '@duel/coordinator';
import { resolveRunConfig } from '@duel/trainer';
import { caption, fmt, log, median, sleep, spawnDuel, spawnTs, stop, table, type Machine, type Section } from './common';

const BACKEND = 'wasm';
const MB = 1024 * 1024;

export async function loadFigure(m: Machine, quick: boolean): Promise<Section> {
  const volunteers = quick ? 100 : 500;
  const windowMs = quick ? 8_000 : 30_000;
  const cfg = resolveRunConfig({ dataset: 'ring8', model: 'mlp2d', batchSize: 256, steps: 1_000_000, seed: 1 });
  const c = await startCoordinator(
    defaultCoordinatorOptions(cfg, {
      port: 0,
      shards: 2,
      maxConnectionsPerIp: volunteers + 16,
      sessionRate: { burst: volunteers + 16, perSecond: 100 },
    }),
  );
  const svc = c.service;
  // Every applied update (D or G) is one round: stamp it.
  const stamps: number[] = [];
  let updates = 0;
  const onUpdate = () => {
    updates++;
    stamps.push(performance.now());
  };
  const metricsHook = svc.recorder.metrics.bind(svc.recorder);
  svc.recorder.metrics = (cmd, now) => {
    onUpdate();
    metricsHook(cmd, now);
  };
  const rss = () => process.memoryUsage().rss / MB;
  const roundMs = async (): Promise<{ ms: number; rounds: number }> => {
    const from = stamps.length;
    await sleep(windowMs);
    const s = stamps.slice(from);
    const gaps = s.slice(1).map((t, i) => t - s[i]);
    return { ms: median(gaps), rounds: gaps.length };
  };

  const rssStart = rss();
  const workers = [0, 1].map(() => spawnDuel(['worker', '--coordinator', c.wsUrl, '--backend', BACKEND]));
  let idle: ReturnType<typeof spawnTs> | null = null;
  try {
    const t0 = performance.now();
    while (updates < 20) {
      if (performance.now() - t0 > 120_000) throw new Error('the 2 workers made no progress in 2 minutes');
      await sleep(200);
    }
    const base = await roundMs();
    const rssBefore = rss();
    log(`load: 2 workers, round ${fmt(base.ms)} ms, RSS ${fmt(rssBefore)} MiB`);

    idle = spawnTs('idle-volunteers.ts', [c.url, String(volunteers)]);
    const joined = await new Promise<{ welcomed: number; seconds: number }>((done, fail) => {
      let out = '';
      idle!.stdout!.setEncoding('utf8').on('data', (s: string) => {
        out += s;
        if (out.includes('\n')) done(JSON.parse(out.split('\n')[0]));
      });
      idle!.once('exit', (code) => fail(new Error(`idle volunteers exited (${code}) before all joined`)));
      setTimeout(() => fail(new Error('idle volunteers did not all join within 3 minutes')), 180_000).unref();
    });
    const connected = svc.workerStats().filter((w) => w.connected).length;
    log(`load: ${joined.welcomed} volunteers joined in ${fmt(joined.seconds)} s (${connected} workers connected)`);
    const loaded = await roundMs();
    const rssAfter = rss();
    const still = svc.workerStats().filter((w) => w.connected).length;
    log(`load: with ${volunteers} idle, round ${fmt(loaded.ms)} ms, RSS ${fmt(rssAfter)} MiB`);
    // The machine is shared: a third window without the volunteers brackets the loaded one, and the
    // ratio is taken against the mean of the two unloaded windows.
    await stop(idle);
    idle = null;
    const after = await roundMs();
    log(`load: volunteers gone, round ${fmt(after.ms)} ms`);

    const ratio = loaded.ms / ((base.ms + after.ms) / 2);
    const perConn = ((rssAfter - rssBefore) * 1024) / volunteers;
    const markdown = [
      `ring8 / mlp2d, batch ${cfg.batchSize}, sync, 2 shards: 2 real \`duel worker --backend ${BACKEND}\` processes do all the`,
      `training; then ${volunteers} volunteer connections join from one child process (session from`,
      '`POST /api/volunteer/session`, hello as `volunteer`, pongs to the heartbeat) and stay idle: they never get a',
      'task, and a waiting worker is parked (weights reach it only with its next task), so broadcasts skip them.',
      'The coordinator runs in the bench process, so RSS is its RSS.',
      `Round latency is the median time between applied updates over ${windowMs / 1000} s windows.${quick ? ' **--quick: 100 volunteers, 8 s windows.**' : ''}`,
      '',
      table(
        ['', 'connections', 'round latency (ms)', 'rounds timed', 'coordinator RSS (MiB)'],
        [
          ['coordinator started', 0, '—', '—', fmt(rssStart)],
          ['2 workers', 2, fmt(base.ms), base.rounds, fmt(rssBefore)],
          [`2 workers + ${volunteers} idle volunteers`, still, fmt(loaded.ms), loaded.rounds, fmt(rssAfter)],
          ['2 workers, volunteers gone', 2, fmt(after.ms), after.rounds, fmt(rss())],
        ],
      ),
      '',
      `All ${joined.welcomed} volunteers were welcomed in ${fmt(joined.seconds)} s (${connected} connections at the start of the window, ${still} at its end).`,
      `With them the round latency is **${fmt(ratio, 2)}×** the mean of the two 2-worker windows around it, and RSS grows by ${fmt(rssAfter - rssBefore)} MiB`,
      `(${fmt(perConn, 0)} KiB per idle connection: socket, session and ledger bookkeeping, and the V8 heap's growth).`,
      '',
      caption(m),
    ].join('\n');
    return {
      title: '10. Load',
      markdown,
      summary: `load: ${volunteers} idle volunteers + 2 workers: round ${fmt(loaded.ms)} ms vs ${fmt(base.ms)} / ${fmt(after.ms)} ms without (${fmt(ratio, 2)}×), RSS ${fmt(rssBefore)} → ${fmt(rssAfter)} MiB`,
    };
  } finally {
    if (idle) await stop(idle);
    await Promise.all(workers.map((p) => stop(p)));
    await c.close();
  }
}
