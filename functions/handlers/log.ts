/**
 * The structured logger of the Lambda handlers: one JSON object per line on
 * stdout (`level`, `message`, `time`, then the fields, e.g. `runId`,
 * `targetId`, `shard`), which CloudWatch Logs Insights reads as fields.
 * Everything logged passes through one sanitizer, so no secret can reach a
 * log line: a `headers` object is logged as its header names only, every
 * URL (on its own or inside a message) has its credentials removed and its
 * query values redacted, and errors are logged as name, message and stack.
 */
import type { LogFields, Logger, LogLevel } from '../engine/logger.js';
import { redactUrl } from '../engine/redact.js';

/** Where a line goes; a line has no trailing newline. */
export type LineWriter = (line: string) => void;

/** Nesting depth past which values are logged as `[nested]`. */
const MAX_DEPTH = 6;
/** Field names whose value is a header map: only its names are logged. */
const HEADER_FIELDS = new Set(['headers']);
/** A URL inside free text: a scheme, then anything up to whitespace or a quote. */
const URL_IN_TEXT = /\b(?:wss?|https?):\/\/[^\s"'<>]+/gi;

/**
 * A {@link Logger} writing one JSON line per entry to `write` (default: stdout,
 * which Lambda sends to CloudWatch Logs unchanged), every entry carrying `fields`.
 */
export function createLogger(fields: LogFields = {}, write: LineWriter = writeToStdout): Logger {
  const base = sanitizeFields(fields);
  const writeAt =
    (level: LogLevel) =>
    (message: string, extra: LogFields = {}) => {
      write(
        JSON.stringify({
          level,
          message: redactUrlsIn(message),
          time: new Date().toISOString(),
          ...base,
          ...sanitizeFields(extra),
        }),
      );
    };
  return {
    debug: writeAt('debug'),
    info: writeAt('info'),
    warn: writeAt('warn'),
    error: writeAt('error'),
    with: (more) => createLogger({ ...base, ...more }, write),
  };
}

/** Writes a line to stdout. */
function writeToStdout(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** The fields with every value sanitized. */
function sanitizeFields(fields: LogFields): LogFields {
  return Object.fromEntries(Object.entries(fields).map(([name, value]) => [name, sanitize(name, value, 0)]));
}

/** A value as it may be logged: no header value, no URL credential or query value. */
function sanitize(name: string, value: unknown, depth: number): unknown {
  if (HEADER_FIELDS.has(name.toLowerCase()) && isPlainObject(value)) return Object.keys(value).sort();
  if (typeof value === 'string') return redactUrlsIn(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[nested]';
  if (value instanceof Error) {
    return {
      name: value.name,
      message: redactUrlsIn(value.message),
      ...(value.stack ? { stack: redactUrlsIn(value.stack) } : {}),
      ...(value.cause !== undefined ? { cause: sanitize('cause', value.cause, depth + 1) } : {}),
    };
  }
  if (Array.isArray(value)) return value.map((item) => sanitize('', item, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, sanitize(key, item, depth + 1)]));
}

/** The text with every URL in it redacted (credentials removed, query values replaced). */
function redactUrlsIn(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => {
    try {
      return redactUrl(url);
    } catch {
      return '[url]';
    }
  });
}

/** True for an object that is not an array, an error or a class instance with its own shape. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Error);
}
