import { DuelError, ErrorCodes } from '@duel/util';
import { describe, expect, it } from 'vitest';
import type { FrameType, Role } from './frames';
import { admitFrame, type SessionPhase } from './session';

function run(from: Role, types: FrameType[]): SessionPhase | string {
  let phase: SessionPhase = 'handshake';
  try {
    for (const t of types) phase = admitFrame(phase, t, from);
    return phase;
  } catch (e) {
    return (e as DuelError).code;
  }
}

describe('admitFrame', () => {
  it('coordinator side: hello first, then results and heartbeats, then bye', () => {
    expect(run('worker', ['hello', 'pong', 'result', 'result', 'ping', 'error', 'bye'])).toBe('closed');
    expect(run('worker', ['result'])).toBe(ErrorCodes.NOT_HELLO);
    expect(run('worker', ['pong'])).toBe(ErrorCodes.NOT_HELLO);
    expect(run('worker', ['bye'])).toBe(ErrorCodes.NOT_HELLO);
    expect(run('worker', ['hello', 'hello'])).toBe(ErrorCodes.BAD_FRAME);
    expect(run('worker', ['hello', 'bye', 'result'])).toBe(ErrorCodes.BAD_FRAME);
    expect(run('worker', ['hello', 'task'])).toBe(ErrorCodes.BAD_FRAME);
  });

  it('worker side: welcome opens; refusals may come before it', () => {
    expect(run('coordinator', ['welcome', 'weights', 'weights', 'task', 'ack', 'ping', 'wait', 'bye'])).toBe('closed');
    expect(run('coordinator', ['error', 'bye'])).toBe('closed');
    expect(run('coordinator', ['ping', 'wait'])).toBe('handshake');
    expect(run('coordinator', ['task'])).toBe(ErrorCodes.NOT_HELLO);
    expect(run('coordinator', ['weights'])).toBe(ErrorCodes.NOT_HELLO);
    expect(run('coordinator', ['welcome', 'welcome'])).toBe(ErrorCodes.BAD_FRAME);
    expect(run('coordinator', ['welcome', 'result'])).toBe(ErrorCodes.BAD_FRAME);
  });
});
