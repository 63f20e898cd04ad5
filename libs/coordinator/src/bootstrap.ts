import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplication, LogLevel } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { AddressInfo } from 'node:net';
import { decodeFrame, limitsFor, maxPayloadFor, toDuelError } from '@duel/protocol';
import { CoordinatorModule } from './coordinator.module';
import type { CoordinatorOptions } from './coordinator.options';
import { CoordinatorService } from './coordinator.service';
import type { ParsedMessage } from './rounds.gateway';

export interface RunningCoordinator {
  app: INestApplication;
  service: CoordinatorService;
  port: number;
  url: string;
  wsUrl: string;
  close(): Promise<void>;
}

/**
 * Starts the coordinator: one port serving the HTTP API and the WebSocket
 * endpoint /ws. The adapter's messageParser is the one place a binary frame
 * is decoded and validated against the run's tensor layout.
 */
export async function startCoordinator(opts: CoordinatorOptions, logLevels: LogLevel[] = ['error', 'warn']): Promise<RunningCoordinator> {
  const app = await NestFactory.create(CoordinatorModule.forRoot(opts), { logger: logLevels, abortOnError: false });
  const service = app.get(CoordinatorService);
  const layout = service.layout;
  const maxPayload = maxPayloadFor(layout);
  const limits = limitsFor(layout);
  const parse = (data: unknown): { event: 'frame'; data: ParsedMessage } => {
    const bytes = data instanceof Uint8Array ? data : typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(0);
    try {
      return { event: 'frame', data: { ok: true, frame: decodeFrame(bytes, { layout, limits, from: 'worker' }), bytes: bytes.byteLength } };
    } catch (e) {
      return { event: 'frame', data: { ok: false, error: toDuelError(e), bytes: bytes.byteLength } };
    }
  };
  const adapter = new WsAdapter(app, { messageParser: parse });
  app.useWebSocketAdapter(adapter);
  app.enableShutdownHooks();
  await app.init();
  for (const server of wsServers(adapter)) server.options.maxPayload = maxPayload;
  await app.listen(opts.port, opts.host);
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const host = opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host;
  return {
    app,
    service,
    port,
    url: `http://${host}:${port}`,
    wsUrl: `ws://${host}:${port}/ws`,
    close: () => app.close(),
  };
}

/** The ws servers the adapter created (to set maxPayload from the model size). */
function wsServers(adapter: WsAdapter): { options: { maxPayload?: number } }[] {
  const registry = (adapter as unknown as { wsServersRegistry: Map<number, { options: { maxPayload?: number } }[]> }).wsServersRegistry;
  return [...(registry?.values() ?? [])].flat();
}
