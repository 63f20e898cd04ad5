import type { LogLevel } from '@duel/worker-core';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFn = (level: LogLevel, event: string, fields?: Record<string, unknown>) => void;

/**
 * One JSON object per line, for `kubectl logs` and any log shipper. Kept to a
 * few lines on purpose: a structured logger (pino) can replace it behind the
 * same signature.
 */
export function jsonLogger(write: (line: string) => void, minLevel: LogLevel = 'info'): LogFn {
  return (level, event, fields = {}) => {
    if (RANK[level] < RANK[minLevel]) return;
    write(`${JSON.stringify({ ts: new Date().toISOString(), level, event, ...fields })}\n`);
  };
}

export const stderrLogger = (minLevel: LogLevel = 'info'): LogFn => jsonLogger((line) => process.stderr.write(line), minLevel);
