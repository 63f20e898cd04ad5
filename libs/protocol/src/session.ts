import { DuelError, ErrorCodes } from '@duel/util';
import { FRAME_SENDERS, type FrameType, type Role } from './frames';

/**
 * Where one connection stands, seen by the receiving side:
 * 'handshake' until the peer's hello (coordinator) or welcome (worker) arrives,
 * 'open' after it, 'closed' after the peer's bye.
 */
export type SessionPhase = 'handshake' | 'open' | 'closed';

/**
 * Admits a received frame of type `t` sent by `from` in `phase` and returns the
 * next phase, or throws: NOT_HELLO for anything before the handshake frame,
 * BAD_FRAME for a second handshake, a frame after bye, or a frame `from` may
 * not send. Pure, so gateways and workers share it and tests need no socket.
 */
export function admitFrame(phase: SessionPhase, t: FrameType, from: Role): SessionPhase {
  if (!(FRAME_SENDERS[t] as readonly Role[]).includes(from)) {
    throw new DuelError(ErrorCodes.BAD_FRAME, `a ${from} may not send '${t}'`);
  }
  const handshake: FrameType = from === 'worker' ? 'hello' : 'welcome';
  if (phase === 'closed') throw new DuelError(ErrorCodes.BAD_FRAME, `'${t}' after bye`);
  if (phase === 'handshake') {
    if (t === handshake) return 'open';
    // A worker must hear why it is refused (error, bye, wait) and answer pings before welcome.
    const earlyFromCoordinator: readonly FrameType[] = ['error', 'bye', 'wait', 'ping', 'pong'];
    if (from === 'coordinator' && earlyFromCoordinator.includes(t)) return t === 'bye' ? 'closed' : 'handshake';
    throw new DuelError(ErrorCodes.NOT_HELLO, `'${t}' before ${handshake}`);
  }
  if (t === handshake) throw new DuelError(ErrorCodes.BAD_FRAME, `second ${handshake}`);
  return t === 'bye' ? 'closed' : 'open';
}
