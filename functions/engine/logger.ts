/**
 * The structured log as the step functions see it: entries with a level, a
 * message and named fields. The Lambda handlers pass an implementation that
 * writes one JSON line per entry with every secret removed
 * (functions/handlers/log.ts); tests pass one that keeps the entries.
 */

/** Severity of an entry. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Named values logged with an entry. */
export type LogFields = Record<string, unknown>;

/** Writes structured entries, each carrying the logger's own fields. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose entries also carry `fields` (later fields win). */
  with(fields: LogFields): Logger;
}
