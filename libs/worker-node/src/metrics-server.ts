import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WorkerCounters } from '@duel/worker-core';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface WorkerMetricsSource {
  counters: Readonly<WorkerCounters>;
  connected: boolean;
  workerId: string | null;
  backend: string;
  device: string;
}

/**
 * A prom-client registry mirroring a worker's counters at scrape time; names
 * start with duel_worker_. Process metrics (CPU, memory, event loop) come as
 * duel_worker_process_*.
 */
export function workerMetricsRegistry(read: () => WorkerMetricsSource, processMetrics = true): Registry {
  const registry = new Registry();
  const mirror = (name: string, help: string, value: (c: Readonly<WorkerCounters>) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(value(read().counters));
      },
    });
  new Gauge({
    name: 'duel_worker_connected',
    help: '1 while connected to the coordinator (what /readyz reports).',
    registers: [registry],
    collect() {
      this.set(read().connected ? 1 : 0);
    },
  });
  new Gauge({
    name: 'duel_worker_info',
    help: 'Constant 1, labelled with the worker id the coordinator assigned, the backend and the device.',
    labelNames: ['worker_id', 'backend', 'device'],
    registers: [registry],
    collect() {
      const s = read();
      this.reset();
      this.set({ worker_id: s.workerId ?? '', backend: s.backend, device: s.device }, 1);
    },
  });
  mirror('duel_worker_connections_total', 'Connections opened, reconnects included.', (c) => c.connections);
  mirror('duel_worker_tasks_total', 'Tasks computed and sent as results.', (c) => c.tasksDone);
  mirror('duel_worker_samples_total', 'Samples used by those results.', (c) => c.samples);
  mirror('duel_worker_compute_seconds_total', 'Compute time of those results.', (c) => c.computeMs / 1000);
  new Counter({
    name: 'duel_worker_acks_total',
    help: 'Acks received, by status.',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      const c = read().counters;
      this.reset();
      this.inc({ status: 'applied' }, c.accepted);
      this.inc({ status: 'rejected' }, c.rejected);
      this.inc({ status: 'duplicate' }, c.duplicates);
    },
  });
  mirror('duel_worker_abstained_total', 'Tasks answered with an error instead of a result.', (c) => c.abstained);
  mirror('duel_worker_dropped_total', 'Tasks dropped: connection lost or stopping.', (c) => c.dropped);
  if (processMetrics) collectDefaultMetrics({ register: registry, prefix: 'duel_worker_process_' });
  return registry;
}

/**
 * Serves GET /metrics (Prometheus), GET /healthz (liveness: the process
 * answers) and GET /readyz (200 while connected to the coordinator, else 503)
 * on `port` (0 picks a free one). Resolves once listening.
 */
export async function startMetricsServer(port: number, read: () => WorkerMetricsSource): Promise<{ port: number; close(): Promise<void> }> {
  const registry = workerMetricsRegistry(read);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
    } else if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`),
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok' }));
    } else if (path === '/readyz') {
      const { connected, workerId } = read();
      res.writeHead(connected ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: connected ? 'ok' : 'error', connected, workerId }));
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
