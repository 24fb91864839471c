/**
 * Failure counts in words, the phrases the sentences about a limiting factor
 * are made of: the failure mix by class and code, how new connections were
 * refused, how open ones were closed or dropped, and a handshake slowdown.
 * Most come in two lengths: with counts for the summary stored with a run
 * (`12 × HTTP 503`), and without for the report's one-sentence headline
 * (`refused upgrades with HTTP 503`).
 */
import { handshakeSlowdown } from '../handshake-slowdown.js';
import type { FailureCounts, HandshakeP95 } from '../types.js';
import { formatMilliseconds, formatTenths } from '../units.js';

/** Failures by class in words: `handshake-rejected 48, abnormal-closure 2`, or empty when none. */
export function formatFailureClasses(failures: FailureCounts): string {
  return Object.entries(failures.byClass)
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
}

/**
 * The codes behind the failures: `HTTP 503 × 48`, `close 1006 × 2`, `ECONNRESET × 1`, `session close 4429 × 3`,
 * `URL provider HTTP 429 × 2`, in that order.
 */
export function formatFailureCodes(failures: FailureCounts): string[] {
  return [
    ...Object.entries(failures.byStatus).map(([status, count]) => `HTTP ${status} × ${count}`),
    ...Object.entries(failures.byCloseCode).map(([code, count]) => `close ${code} × ${count}`),
    ...Object.entries(failures.byErrorCode).map(([code, count]) => `${code} × ${count}`),
    ...Object.entries(failures.bySessionRejection ?? {}).map(([key, count]) => `session ${key} × ${count}`),
    ...Object.entries(failures.bySessionSetup ?? {}).map(([key, count]) => `${setupWords(key)} × ${count}`),
  ];
}

/** A session set-up key in words: `URL provider HTTP 429`, `URL provider timeout`, `SigV4 signing`. */
function setupWords(key: string): string {
  return key === 'signing' ? 'SigV4 signing' : `URL provider ${key}`;
}

/** Where the refusals came from: the upgrades, the sessions after them, or the URL provider before them. */
export type RefusalSource = 'upgrade' | 'session' | 'url-provider';

/**
 * Where every refusal came from when they all came from one place: `session` when only sessions were rejected,
 * `url-provider` when only session set-ups failed; `upgrade` otherwise (upgrades refused, or a mix).
 */
export function refusalSource(failures: FailureCounts): RefusalSource {
  const { byClass } = failures;
  const upgrades =
    (byClass['handshake-rejected'] ?? 0) + (byClass['handshake-timeout'] ?? 0) + (byClass['connect-error'] ?? 0);
  const sessions = byClass['session-rejected'] ?? 0;
  const setups = byClass['session-setup'] ?? 0;
  if (upgrades === 0 && setups === 0 && sessions > 0) return 'session';
  if (upgrades === 0 && sessions === 0 && setups > 0) return 'url-provider';
  return 'upgrade';
}

/**
 * Refusals counted: `48 × HTTP 503, 2 × connected over TCP but never answered: a full accept queue, 1 × ECONNRESET,
 * 3 × session close 4429, 2 × URL provider HTTP 429`.
 */
export function countRefusals(failures: FailureCounts): string {
  const parts: string[] = [];
  for (const [status, count] of Object.entries(failures.byStatus)) parts.push(`${count} × HTTP ${status}`);
  const timeouts = failures.byClass['handshake-timeout'];
  if (timeouts) parts.push(`${timeouts} × connected over TCP but never answered: a full accept queue`);
  for (const [code, count] of Object.entries(failures.byErrorCode)) parts.push(`${count} × ${code}`);
  for (const [key, count] of Object.entries(failures.bySessionRejection ?? {})) {
    parts.push(`${count} × session ${key}`);
  }
  for (const [key, count] of Object.entries(failures.bySessionSetup ?? {})) parts.push(`${count} × ${setupWords(key)}`);
  return parts.join(', ');
}

/**
 * How the server refused, as a verb phrase: `refused upgrades with HTTP 503`, `stopped answering upgrades
 * (handshake timeouts)`, `answered new connections with ECONNRESET`, `rejected sessions (close 4429)`, joined by
 * `and`, with ` (and its URL provider refused sessions: HTTP 429)` after them when that failed too.
 */
export function describeRefusals(failures: FailureCounts): string {
  const parts: string[] = [];
  const statuses = Object.keys(failures.byStatus);
  if (statuses.length) parts.push(`refused upgrades with HTTP ${statuses.join(' and ')}`);
  if (failures.byClass['handshake-timeout']) parts.push('stopped answering upgrades (handshake timeouts)');
  const codes = Object.keys(failures.byErrorCode);
  if (codes.length) parts.push(`answered new connections with ${codes.join(' and ')}`);
  const rejections = Object.keys(failures.bySessionRejection ?? {});
  if (rejections.length) parts.push(`rejected sessions (${rejections.join(', ')})`);
  const setups = Object.keys(failures.bySessionSetup ?? {});
  const provider = setups.length ? ` (and its URL provider refused sessions: ${setups.join(', ')})` : '';
  return `${parts.join(' and ') || 'refused new connections'}${provider}`;
}

/** Drops counted: `3 pong timeouts, 10 closes with code 1011`. */
export function countDrops(failures: FailureCounts): string {
  const parts: string[] = [];
  const pongTimeouts = failures.byClass['pong-timeout'];
  if (pongTimeouts) parts.push(`${pongTimeouts} pong timeouts`);
  for (const [code, count] of Object.entries(failures.byCloseCode)) parts.push(`${count} closes with code ${code}`);
  return parts.join(', ');
}

/** Drops by code: `close 1011 × 10, pong timeout × 3`. */
export function listDrops(failures: FailureCounts): string {
  const pongTimeouts = failures.byClass['pong-timeout'];
  return [...formatFailureCodes(failures), ...(pongTimeouts ? [`pong timeout × ${pongTimeouts}`] : [])].join(', ');
}

/** The close codes seen: `1006, no close frame; code 1001`, or `no close code`. */
export function nameCloseCodes(byCloseCode: Record<string, number>): string {
  const codes = Object.keys(byCloseCode);
  const described = codes.map((code) => (code === '1006' ? '1006, no close frame' : `code ${code}`));
  return described.join('; ') || 'no close code';
}

/** How connections were closed: `without a close frame`, `with close code 1001`, joined by `or`. */
export function describeCloses(failures: FailureCounts): string {
  const codes = Object.keys(failures.byCloseCode);
  return (
    codes.map((code) => (code === '1006' ? 'without a close frame' : `with close code ${code}`)).join(' or ') ||
    'without a close code'
  );
}

/**
 * `, with handshake p95 rising from 3.3 ms in the first stage to 202.5 ms in the failing one` when the failing stage's
 * handshakes slowed markedly (see handshakeSlowdown); empty otherwise.
 */
export function slowdownClause(p95: HandshakeP95 | undefined): string {
  const slowed = handshakeSlowdown(p95);
  if (!slowed) return '';
  return (
    `, with handshake p95 rising from ${formatTenths(slowed.first)} ms in the first stage to ` +
    `${formatTenths(slowed.failing)} ms in the failing one`
  );
}

/** `, and handshakes slowed from p95 3.3 ms to 202.5 ms`, the short form of slowdownClause; empty otherwise. */
export function shortSlowdownClause(p95: HandshakeP95 | undefined): string {
  const slowed = handshakeSlowdown(p95);
  return slowed
    ? `, and handshakes slowed from p95 ${formatMilliseconds(slowed.first)} to ${formatMilliseconds(slowed.failing)}`
    : '';
}
