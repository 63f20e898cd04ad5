import type { LogLevel } from '@duel/worker-core';
import { logFormat } from '@duel/util';
import pino, { type DestinationStream } from 'pino';

export type LogFn = (level: LogLevel, event: string, fields?: Record<string, unknown>) => void;

/**
 * Structured logs in the coordinator's format (@duel/util logFormat, pino): one
 * JSON object per line for `kubectl logs` and any log shipper, with the event
 * name both as `msg` and as `event`, and its fields (workerId...) beside them.
 */
export function jsonLogger(dest: DestinationStream, minLevel: LogLevel = 'info'): LogFn {
  const logger = pino({ ...logFormat('duel-worker'), level: minLevel }, dest);
  return (level, event, fields = {}) => logger[level]({ ...fields, event }, event);
}

/** Logs to stderr (synchronously, so the last lines survive process.exit). */
export const stderrLogger = (minLevel: LogLevel = 'info'): LogFn => jsonLogger(pino.destination({ fd: 2, sync: true }), minLevel);
