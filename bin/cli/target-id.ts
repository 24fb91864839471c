/**
 * The target id `run` and `diagnose` give a URL when no --target-id is
 * given: its host, port and path in readable form (`chat.example.com-socket`),
 * and a short hash of the endpoint when that readable form loses information,
 * so two different endpoints never share an id (one's ceiling would become
 * the other's baseline). docs/cli.md ("Target ids") states the rule.
 *
 * The endpoint is the host, the port (the scheme's default when none is
 * given), the path and the names of the query parameters (not their values,
 * which are often credentials that change). The readable form keeps letters,
 * digits, `.` and `_`, and turns everything else into `-`; it is exact, and
 * kept as the id without a hash, only when it can be read back:
 * - the host has no `-` in its last label (IP addresses, `example.com`);
 * - the port is given, or the scheme is wss:// (ws://host/ and wss://host/
 *   are different ports);
 * - every path segment is letters, digits and `_` only (no `-`, no `.`, none
 *   empty, so no trailing slash), and the first is not all digits when no port
 *   is given (it would read as one);
 * - there is no query, the id fits in 64 characters, and the last segment
 *   does not look like a hash.
 * ws:// and wss:// on the same port name one endpoint: a port speaks TLS or not.
 */
import { createHash } from 'node:crypto';

/** Longest target id. */
const MAX_ID_LENGTH = 64;
/** Hex digits of the endpoint hash added to an id whose readable form loses information. */
const HASH_LENGTH = 8;
const HASH_LIKE = new RegExp(`^[0-9a-f]{${HASH_LENGTH}}$`);
const DEFAULT_PORTS: Record<string, string> = { 'ws:': '80', 'wss:': '443' };

/** A stable target id from a URL: `chat.example.com-socket`, or `chat.example.com-a-b-1f0c9e3a` when lossy. */
export function targetIdFromUrl(url: URL): string {
  const readable = [url.hostname, url.port, url.pathname]
    .filter(Boolean)
    .join('-')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  if (readsBack(url, readable)) return readable;
  const kept = readable.slice(0, MAX_ID_LENGTH - HASH_LENGTH - 1).replace(/-$/, '');
  return `${kept}-${endpointHash(url)}`;
}

/** Whether `readable` names `url`'s endpoint and no other (the rules in the header). */
function readsBack(url: URL, readable: string): boolean {
  const lastLabel = url.hostname.split('.').pop() ?? '';
  const segments = url.pathname === '/' ? [] : url.pathname.slice(1).split('/');
  const last = segments[segments.length - 1];
  return (
    /^[A-Za-z0-9]+$/.test(lastLabel) &&
    /^[A-Za-z0-9._-]+$/.test(url.hostname) &&
    (url.port !== '' || url.protocol === 'wss:') &&
    segments.every((segment) => /^[A-Za-z0-9_]+$/.test(segment)) &&
    !(url.port === '' && /^\d+$/.test(segments[0] ?? '')) &&
    url.search === '' &&
    readable.length <= MAX_ID_LENGTH &&
    !(last !== undefined && HASH_LIKE.test(last))
  );
}

/** A short hash of the endpoint: host, effective port, path and the sorted names of the query parameters. */
function endpointHash(url: URL): string {
  const port = url.port || (DEFAULT_PORTS[url.protocol] ?? '');
  const queryNames = [...new Set(url.searchParams.keys())].sort().join('&');
  const endpoint = [url.hostname, port, url.pathname, queryNames].join('\n');
  return createHash('sha256').update(endpoint).digest('hex').slice(0, HASH_LENGTH);
}
