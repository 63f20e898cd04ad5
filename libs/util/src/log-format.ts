/**
 * The one structured log format of duel's processes (coordinator and node
 * workers), as pino options: one JSON object per line with `level` as a name,
 * an ISO `time`, the `service`, then context fields (runId, workerId...) and
 * `msg`. A plain object, so this shared lib needs no logger dependency.
 *
 *   {"level":"info","time":"2026-11-23T14:00:00.000Z","service":"duel-worker","workerId":"w-1-x","msg":"connect"}
 */
export function logFormat(service: string) {
  return {
    base: { service },
    messageKey: 'msg',
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    formatters: { level: (label: string) => ({ level: label }) },
  };
}
