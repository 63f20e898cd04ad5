import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplication, LogLevel } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import type { AddressInfo } from 'node:net';
import { maxPayloadFor } from '@duel/protocol';
import { Checkpointer, RecoveryController } from './checkpointer';
import { CoordinatorModule } from './coordinator.module';
import { prepareRecovery, withRecovery } from './recovery';
import type { CoordinatorOptions } from './coordinator.options';
import { CoordinatorService } from './coordinator.service';
import { serveWebAssets } from './web-assets';
import { frameParser } from './message-parser';
import { tuneHeapForCoordinator } from './gc-tuning';

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
  tuneHeapForCoordinator();
  // The store opens first: a resumed run sets opts.run from its checkpoint before the module is built.
  const recovery = await prepareRecovery(opts);
  const root = withRecovery(CoordinatorModule.forRoot(opts, logLevels), recovery, { providers: [Checkpointer], controllers: [RecoveryController] });
  const app = await NestFactory.create(root, { bufferLogs: true, abortOnError: false });
  // Structured JSON logs (libs/coordinator/src/logging.ts) at the level `logLevels` asks for.
  app.useLogger(app.get(PinoNestLogger));
  const service = app.get(CoordinatorService);
  const layout = service.layout;
  const maxPayload = maxPayloadFor(layout);
  const adapter = new WsAdapter(app, { messageParser: frameParser(layout) });
  app.useWebSocketAdapter(adapter);
  // The built pages (apps/web), cross-origin isolated for wasm threads.
  serveWebAssets(app);
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
