/**
 * Keeps secrets out of output and storage: a target URL is shown with its
 * user-info removed and every query value replaced, since tokens often ride
 * in the query string.
 */

/** Placeholder written where a secret value was. */
export const REDACTED = 'redacted';

/** The URL without credentials and with every query value replaced by `redacted`. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  const names = [...new Set(parsed.searchParams.keys())];
  for (const name of names) parsed.searchParams.set(name, REDACTED);
  return parsed.toString();
}
