/**
 * A short excerpt of text a server sent (an error message, a close reason)
 * that is safe to print and store: every known secret the probe sent
 * (header values, filled-in templates, init messages, a provider's URL) and
 * anything that looks like a token is replaced by `redacted` before the text
 * is cut short, so a server that echoes a credential back never puts it in a
 * record.
 */
import { REDACTED } from './redact.js';

/** Longest excerpt, in characters (an ellipsis marks a cut). */
const EXCERPT_LENGTH = 80;

/**
 * Runs of token characters at least this long that hold both a letter and a digit look like a key, a session id or a
 * JWT, and are hidden even when the probe does not know them as secrets.
 */
const TOKEN_LIKE = /[A-Za-z0-9_\-+/=.~%]{20,}/g;

/** Secrets shorter than this are not searched for: replacing "1" in every message would hide the message. */
const MIN_SECRET_LENGTH = 4;

/**
 * The first {@link EXCERPT_LENGTH} characters of `text` with each of `secrets` (as sent, URL-encoded and
 * JSON-escaped) and every token-like run replaced by `redacted`, control characters and runs of white space made one
 * space.
 */
export function secretFreeExcerpt(text: string, secrets: readonly string[], length = EXCERPT_LENGTH): string {
  let clean = text;
  const forms = secrets
    .filter((secret) => secret.length >= MIN_SECRET_LENGTH)
    .flatMap((secret) => [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]);
  // Longest first, so a secret that contains another is replaced whole.
  for (const form of [...new Set(forms)].sort((a, b) => b.length - a.length)) clean = clean.replaceAll(form, REDACTED);
  clean = clean.replace(TOKEN_LIKE, (run) => (/[A-Za-z]/.test(run) && /\d/.test(run) ? REDACTED : run));
  clean = clean.replace(/[\s\p{Cc}]+/gu, ' ').trim();
  return clean.length > length ? `${clean.slice(0, length - 1)}…` : clean;
}
