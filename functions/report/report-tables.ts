/**
 * The lookup tables of the HTML report: the label of each verdict, and what
 * each failure class, WebSocket close code and connect error code means, for
 * the failure tables. HTTP statuses take Node's own STATUS_CODES.
 */
import type { Verdict } from '../engine/types.js';

/** Each verdict as its badge shows it. */
export const VERDICT_LABELS: Record<Verdict, string> = {
  ok: 'OK',
  regressed: 'REGRESSED',
  'below-floor': 'BELOW FLOOR',
  inconclusive: 'INCONCLUSIVE',
  failed: 'FAILED',
  skipped: 'SKIPPED',
};

/** What each failure class means, as the documentation's table of failure classes says. */
export const CLASS_MEANINGS: Record<string, string> = {
  'handshake-rejected': 'the upgrade was answered with an HTTP error status',
  'handshake-timeout': 'TCP connected, but the upgrade was never answered',
  'connect-error': 'refused, reset or timed out after other connections had opened',
  'abnormal-closure': 'an open connection ended without a close frame',
  'server-close': 'the server closed an open connection with a close frame',
  'pong-timeout': 'no pong came in time after a ping',
  'session-rejected': 'upgraded, but its session was rejected (an error message, a close) or not ready in time',
  'session-setup': 'its session could not be set up before the upgrade: the URL provider failed, or signing did',
  'probe-limited': "the probe's own machine ran out (descriptors, ports, buffers)",
  'config-error': 'the target refused the request itself (status, auth, path or subprotocol)',
  unreachable: 'DNS, TLS, or no answer before any connection had opened',
};

/** WebSocket close codes (RFC 6455 and the IANA registry). */
export const CLOSE_CODE_MEANINGS: Record<string, string> = {
  '1000': 'normal closure',
  '1001': 'going away',
  '1002': 'protocol error',
  '1003': 'unsupported data',
  '1005': 'no status code',
  '1006': 'no close frame: the connection was cut',
  '1007': 'invalid payload',
  '1008': 'policy violation',
  '1009': 'message too big',
  '1010': 'extension required',
  '1011': 'internal server error',
  '1012': 'service restart',
  '1013': 'try again later',
  '1014': 'bad gateway',
  '1015': 'TLS handshake failed',
};

/** Node connect error codes the probe meets. */
export const ERROR_CODE_MEANINGS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the peer',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'no route to the host',
  ENOTFOUND: 'DNS name not found',
  EAI_AGAIN: 'DNS lookup failed for now',
  EMFILE: 'the probe process ran out of file descriptors',
  ENFILE: 'the machine ran out of file descriptors',
  EADDRNOTAVAIL: 'no local address or port free',
  EADDRINUSE: 'local address already in use',
  ENOBUFS: 'no buffer space on the probe machine',
  EHANDSHAKE: 'the server answered a handshake ws could not accept',
};

/** What a close code outside the registry means by its range: 4000–4999 the application's, 3000–3999 a library's. */
export function closeCodeMeaning(code: string): string | undefined {
  const value = Number(code);
  if (value >= 4000 && value <= 4999) return 'set by the application';
  if (value >= 3000 && value <= 3999) return 'set by a library or framework';
  return undefined;
}
