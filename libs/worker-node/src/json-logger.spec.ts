import { describe, expect, it } from 'vitest';
import { jsonLogger } from './json-logger';

describe('worker json logs', () => {
  it('writes one JSON object per line in the shared format, filtered by level', () => {
    const lines: string[] = [];
    const log = jsonLogger({ write: (s: string) => void lines.push(s) }, 'info');
    log('debug', 'tick', { n: 1 });
    log('info', 'connect', { workerId: 'w-1-a', url: 'ws://h:1/ws' });
    log('error', 'stopped', { workerId: 'w-1-a', error: 'boom' });
    expect(lines).toHaveLength(2);
    const [a, b] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    expect(a).toMatchObject({ level: 'info', service: 'duel-worker', workerId: 'w-1-a', event: 'connect', msg: 'connect', url: 'ws://h:1/ws' });
    expect(Number.isNaN(Date.parse(a['time'] as string))).toBe(false);
    expect(b).toMatchObject({ level: 'error', event: 'stopped', error: 'boom' });
  });
});
