/**
 * The one side effect a worker session has: a byte pipe to the coordinator.
 * Node wraps a `ws` socket in it; the browser volunteer wraps a WebSocket, or
 * postMessage to the page that owns the socket. Binary frames only.
 */
export interface Transport {
  /**
   * Sends one encoded frame. Must not throw once the peer is gone (drop silently).
   * `done`, when given, is called once the transport no longer needs `bytes`
   * (written, or dropped), so the sender may reuse the buffer; a transport that
   * copies on send (the browser's WebSocket) calls it at once. One that never
   * calls it only keeps the buffer from being reused.
   */
  send(bytes: Uint8Array, done?: () => void): void;
  /** Closes the connection (RFC 6455 close code, reason ≤ 123 bytes). */
  close(code: number, reason: string): void;
}
