/**
 * The simulator's ways of breaking the protocol, so tests can prove the probe
 * never reads them as a ceiling: an upgrade answered with a web page (HTTP
 * 200) or with bytes that are not HTTP, a close frame whose closing handshake
 * never completes (TCP kept open, the client's close never read), and a frame
 * every client must reject (a close frame with the reserved code 1004). They
 * write to the raw socket, past ws.
 */
import type { Duplex } from 'node:stream';

/** How an upgrade is answered instead of being handled: a web page, or bytes that are not HTTP. */
export type UpgradeAnswer = 'web-page' | 'not-http';

/** The answers `answer=` of a simulator spec accepts. */
export const UPGRADE_ANSWERS: readonly UpgradeAnswer[] = ['web-page', 'not-http'];

/** A close code no endpoint may send (RFC 6455 §7.4.1: reserved), so a client must fail the connection. */
const INVALID_CLOSE_CODE = 1004;

const WEB_PAGE = '<!doctype html><title>Welcome</title><p>This is a web page, not a WebSocket endpoint.</p>\n';

/** Answers an upgrade request with `answer` and ends the socket. */
export function answerUpgradeWith(socket: Duplex, answer: UpgradeAnswer): void {
  const bytes =
    answer === 'web-page'
      ? 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n' +
        `Content-Length: ${Buffer.byteLength(WEB_PAGE)}\r\n\r\n${WEB_PAGE}`
      : 'SSH-2.0-OpenSSH_9.6\r\n';
  socket.end(bytes, () => socket.destroy());
}

/**
 * Sends a close frame with `code` and `reason` on an open connection's socket
 * and stops reading it: the client's answering close frame is never read and
 * TCP stays open until the client (or `stop()`) ends it.
 */
export function closeAndKeepTcpOpen(socket: Duplex, code: number, reason = ''): void {
  socket.pause();
  socket.write(closeFrame(code, reason));
}

/** Sends a close frame with a reserved code the client must reject, and stops reading the socket. */
export function sendInvalidFrame(socket: Duplex): void {
  closeAndKeepTcpOpen(socket, INVALID_CLOSE_CODE);
}

/** An unmasked (server-to-client) close frame; `reason` is at most 123 bytes. */
function closeFrame(code: number, reason: string): Buffer {
  const payload = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason).subarray(0, 123)]);
  return Buffer.concat([Buffer.from([0x88, payload.length]), payload]);
}
