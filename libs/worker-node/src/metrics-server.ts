import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WorkerCounters } from '@duel/worker-core';

/** Prometheus text exposition (format 0.0.4) of a worker's counters; names start with duel_worker_. */
export function renderWorkerMetrics(c: Readonly<WorkerCounters>, connected: boolean): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
  };
  metric('duel_worker_connected', 'gauge', '1 while connected to the coordinator.', [['', connected ? 1 : 0]]);
  metric('duel_worker_connections_total', 'counter', 'Connections opened, reconnects included.', [['', c.connections]]);
  metric('duel_worker_tasks_total', 'counter', 'Tasks computed and sent as results.', [['', c.tasksDone]]);
  metric('duel_worker_samples_total', 'counter', 'Samples used by those results.', [['', c.samples]]);
  metric('duel_worker_compute_seconds_total', 'counter', 'Compute time of those results.', [['', c.computeMs / 1000]]);
  metric('duel_worker_acks_total', 'counter', 'Acks received, by status.', [
    ['{status="applied"}', c.accepted],
    ['{status="rejected"}', c.rejected],
    ['{status="duplicate"}', c.duplicates],
  ]);
  metric('duel_worker_abstained_total', 'counter', 'Tasks answered with an error instead of a result.', [['', c.abstained]]);
  metric('duel_worker_dropped_total', 'counter', 'Tasks dropped: connection lost or stopping.', [['', c.dropped]]);
  return `${lines.join('\n')}\n`;
}

/** Serves GET /metrics and GET /healthz on `port` (0 picks a free one). Resolves once listening. */
export async function startMetricsServer(port: number, read: () => { counters: Readonly<WorkerCounters>; connected: boolean }): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      const { counters, connected } = read();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(renderWorkerMetrics(counters, connected));
    } else if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
