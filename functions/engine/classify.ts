/**
 * Maps one connection's record to its failure class (or to none). Drops are
 * data: every way a connection can fail becomes one FailureClass, and a
 * few classes are fatal to the run (the target is misconfigured or cannot be
 * reached, or the probe itself ran out of resources). A session that fails
 * (rejected after the upgrade, or not set up before it) is a capacity signal
 * once others have opened, and a configuration error when nothing has.
 */
import type { SelfCheckResource } from './self-check.js';
import type { SessionSetupFailure } from './session-setup.js';
import type { ConnectionRecord, FailureClass } from './types.js';

/** HTTP statuses that mean the request itself is wrong (auth, path, protocol), not a limit; so do 1xx and 2xx. */
const CONFIG_ERROR_STATUSES = new Set([300, 301, 302, 303, 307, 308, 400, 401, 403, 404, 405, 407, 410, 426]);

/** Connect errors that come from the probe's own machine running out of something, and what ran out. */
const PROBE_LIMIT_CODES = new Map<string, SelfCheckResource>([
  ['EMFILE', 'descriptors'],
  ['ENFILE', 'descriptors'],
  ['EADDRNOTAVAIL', 'ephemeral-ports'],
  ['EADDRINUSE', 'ephemeral-ports'],
  ['ENOBUFS', 'memory'],
  ['ENOMEM', 'memory'],
]);

/** Connect errors that mean the target's name or certificate is wrong: never a capacity signal. */
const UNREACHABLE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EPROTO']);

/**
 * Error code the shard runner gives a handshake that got an answer ws could not accept (bad subprotocol, bad accept
 * key).
 */
export const HANDSHAKE_PROTOCOL_ERROR = 'EHANDSHAKE';

/** Close codes by which a server says it is overloaded or failing. */
const DEGRADATION_CLOSE_CODES = new Set([1011, 1012, 1013, 1014]);

/** Classes that end a run at once: the answer is a probe failure, never a ceiling. */
const FATAL_CLASSES = new Set<FailureClass>(['config-error', 'unreachable', 'probe-limited']);

/** Facts about the rest of the run that the class of one record depends on. */
export interface ClassifyContext {
  /** Whether any connection had opened before this record's handshake settled. */
  anyOpenedBefore: boolean;
}

/** The failure class of a record, or undefined when the record is not a failure. */
export function classifyRecord(record: ConnectionRecord, context: ClassifyContext): FailureClass | undefined {
  switch (record.outcome) {
    case 'cancelled':
      return undefined;
    case 'opened':
      return classifyClose(record);
    case 'rejected':
      return isNotUpgrading(record.status) || CONFIG_ERROR_STATUSES.has(record.status ?? 0)
        ? 'config-error'
        : 'handshake-rejected';
    case 'handshake-timeout':
      return context.anyOpenedBefore ? 'handshake-timeout' : 'unreachable';
    case 'connect-error':
      return classifyConnectError(record.errorCode ?? '', context);
    case 'session-rejected':
      return context.anyOpenedBefore ? 'session-rejected' : 'config-error';
    case 'session-setup':
      return context.anyOpenedBefore && !isSetupConfigError(record.setup) ? 'session-setup' : 'config-error';
  }
}

/**
 * Whether a session set-up failure says the request is wrong whatever the load: the URL could not be signed
 * (credentials), or the URL provider answered with a status that means the call itself is wrong (auth, path).
 */
function isSetupConfigError(failure: SessionSetupFailure | undefined): boolean {
  if (failure?.reason === 'signing') return true;
  return failure?.reason === 'status' && CONFIG_ERROR_STATUSES.has(failure.status);
}

/**
 * Whether an upgrade was answered with a status under 300 other than 101
 * (e.g. 200 and a web page): the URL is not a WebSocket endpoint.
 */
export function isNotUpgrading(status: number | undefined): boolean {
  return status !== undefined && status < 300;
}

/**
 * Whether a connect error is Node's HTTP parser refusing the answer
 * (`HPE_…`): the target answered with bytes that are not HTTP.
 */
export function isNotHttp(errorCode: string | undefined): boolean {
  return errorCode?.startsWith('HPE_') ?? false;
}

/** Whether a failure class ends the run at once. */
export function isFatal(failureClass: FailureClass): boolean {
  return FATAL_CLASSES.has(failureClass);
}

/**
 * The resource of the probe's host that a `probe-limited` connect error ran out of (EMFILE: descriptors, EADDRNOTAVAIL:
 * ports…).
 */
export function probeResourceOf(errorCode: string | undefined): SelfCheckResource | undefined {
  return PROBE_LIMIT_CODES.get(errorCode ?? '');
}

/** Whether a server close code says the server is overloaded or failing (1011, 1012, 1013, 1014). */
export function isDegradationCloseCode(code: number): boolean {
  return DEGRADATION_CLOSE_CODES.has(code);
}

function classifyClose(record: ConnectionRecord): FailureClass | undefined {
  const close = record.close;
  if (!close || close.closedBy === 'probe') return undefined;
  if (close.closedBy === 'pong-timeout') return 'pong-timeout';
  // A frame ws rejects: the server does not speak the protocol, whatever the load.
  if (close.protocolError !== undefined) return 'config-error';
  return close.frameReceived ? 'server-close' : 'abnormal-closure';
}

function classifyConnectError(code: string, context: ClassifyContext): FailureClass {
  if (PROBE_LIMIT_CODES.has(code)) return 'probe-limited';
  if (code === HANDSHAKE_PROTOCOL_ERROR) return 'config-error';
  if (UNREACHABLE_CODES.has(code) || isTlsErrorCode(code)) return 'unreachable';
  // Refused, reset, timed out or answered with bytes that are not HTTP: a
  // loaded target can do that, but before anything opened it means the
  // target cannot be reached at all, or is not an HTTP server.
  if (context.anyOpenedBefore) return 'connect-error';
  return isNotHttp(code) ? 'config-error' : 'unreachable';
}

function isTlsErrorCode(code: string): boolean {
  return (
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    code.includes('CERT') ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'
  );
}
