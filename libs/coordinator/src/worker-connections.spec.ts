import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { MetricsService } from './metrics.service';
import { MAX_BUFFERED_BYTES, SLOW_SOCKET_BYTES, WorkerConnections } from './worker-connections';

/** A socket double: records what is sent; bufferedAmount is set by the test. */
function fakeSocket() {
  const sent: Uint8Array[] = [];
  /** The write callbacks ws.send was given, in order: the test decides when the socket has written. */
  const written: (() => void)[] = [];
  const ws = {
    OPEN: 1,
    readyState: 1,
    bufferedAmount: 0,
    terminated: false,
    send: (b: Uint8Array, _opts: unknown, cb?: () => void) => {
      sent.push(b);
      if (cb) written.push(cb);
    },
    close: () => undefined,
    terminate() {
      this.terminated = true;
      this.readyState = 3;
    },
  };
  return { ws, sent, written };
}

describe('WorkerConnections backpressure', () => {
  const setup = () => {
    const conns = new WorkerConnections(new MetricsService());
    const fast = fakeSocket();
    const slow = fakeSocket();
    conns.bind(conns.add(fast.ws as unknown as WebSocket, 'a', 0), 'w-fast');
    const slowConn = conns.add(slow.ws as unknown as WebSocket, 'b', 0);
    conns.bind(slowConn, 'w-slow');
    conns.unpark('w-fast');
    conns.unpark('w-slow');
    return { conns, fast, slow, slowConn };
  };

  it('skips a slow socket in broadcasts, keeps only the latest per key, and sends it once drained', () => {
    const { conns, fast, slow } = setup();
    slow.ws.bufferedAmount = SLOW_SOCKET_BYTES + 1;
    const g1 = new Uint8Array([1]);
    const g2 = new Uint8Array([2]);
    const d1 = new Uint8Array([3]);
    expect(conns.broadcast(g1, 'G')).toEqual(['w-slow']);
    conns.broadcast(g2, 'G');
    conns.broadcast(d1, 'D');
    expect(fast.sent).toEqual([g1, g2, d1]);
    expect(slow.sent).toEqual([]);
    conns.flushDrained();
    expect(slow.sent).toEqual([]);
    slow.ws.bufferedAmount = 0;
    conns.flushDrained();
    expect(slow.sent).toEqual([g2, d1]);
    conns.flushDrained();
    expect(slow.sent).toHaveLength(2);
  });

  it('leases every buffer it writes until the socket calls back, and pins what it keeps for later', () => {
    const { conns, fast, slow } = setup();
    const g = new Uint8Array([1]);
    conns.broadcast(g, 'G');
    expect(conns.leases.isFree(g)).toBe(false); // both sockets are writing it
    fast.written.shift()!();
    expect(conns.leases.isFree(g)).toBe(false);
    slow.written.shift()!();
    expect(conns.leases.isFree(g)).toBe(true);
    slow.ws.bufferedAmount = SLOW_SOCKET_BYTES + 1;
    const kept = new Uint8Array([2]);
    conns.broadcast(kept, 'G'); // the slow socket keeps it in pending
    fast.written.shift()!();
    expect(conns.leases.isPinned(kept)).toBe(true);
    expect(conns.leases.isFree(kept)).toBe(false);
  });

  it('sends skipped weights before the next frame to that socket, so a task never overtakes its weights', () => {
    const { conns, slow } = setup();
    slow.ws.bufferedAmount = SLOW_SOCKET_BYTES + 1;
    const w = new Uint8Array([9]);
    conns.broadcast(w, 'G');
    const task = new Uint8Array([7]);
    conns.send('w-slow', task);
    expect(slow.sent).toEqual([w, task]);
  });

  it('terminates a socket more than MAX_BUFFERED_BYTES behind instead of buffering more', () => {
    const { conns, slow } = setup();
    slow.ws.bufferedAmount = MAX_BUFFERED_BYTES + 1;
    expect(conns.send('w-slow', new Uint8Array([1]))).toBe(false);
    expect(slow.ws.terminated).toBe(true);
    expect(conns.slowConsumers).toBe(1);
  });

  it('holds weights for a parked (waiting or new) worker until its next task, and sends it nothing meanwhile', () => {
    const { conns, fast } = setup();
    conns.park('w-fast');
    const g1 = new Uint8Array([1]);
    const g2 = new Uint8Array([2]);
    const d1 = new Uint8Array([3]);
    conns.broadcast(g1, 'G');
    conns.sendWeights('w-fast', d1, 'D');
    conns.broadcast(g2, 'G');
    conns.send('w-fast', new Uint8Array([8])); // a ping or a wait goes out alone
    conns.flushDrained();
    expect(fast.sent).toEqual([new Uint8Array([8])]);
    conns.unpark('w-fast');
    const task = new Uint8Array([7]);
    conns.send('w-fast', task);
    expect(fast.sent.slice(1)).toEqual([g2, d1, task]);
  });
});
