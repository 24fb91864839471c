/**
 * The deployed stack's safety allowlist: a probe may only be pointed at a
 * host the operator listed. The plan step checks it before laying out a run
 * and every worker checks it again before it opens a connection, so a run
 * started with an edited input cannot reach another host.
 */
import { InvalidInputError } from '../engine/errors.js';

/** The host of a ws:// or wss:// URL as compared with the allowlist (lower case, no port). */
function hostOf(url: string): string {
  return new URL(url).hostname.toLowerCase();
}

/**
 * Throws an {@link InvalidInputError} on `field` when the URL's host is not
 * one of `allowedHosts` (exact names, case-insensitive; the port is not part of it).
 */
export function assertAllowedHost(url: string, allowedHosts: readonly string[], field = 'target.url'): void {
  let host: string;
  try {
    host = hostOf(url);
  } catch {
    throw new InvalidInputError(field, 'must be a ws:// or wss:// URL');
  }
  if (allowedHosts.some((allowed) => allowed.toLowerCase() === host)) return;
  throw new InvalidInputError(
    field,
    `host ${host} is not allowed by this deployment (allowed: ${allowedHosts.join(', ')}); add it to ` +
      'allowedHosts in the config and deploy again',
  );
}
