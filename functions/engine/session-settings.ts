/**
 * The session settings of a target whose connections count only once a
 * session is set up: init messages sent in order right after the upgrade
 * (`--init-message`, text or `@file`), the message that says the session is
 * ready (`--ready-when TEXT|/regex/`) and how long to wait for it
 * (`--ready-timeout`). Parsed here with errors that name the flag; files are
 * read through the reader the caller gives. Init messages may hold
 * credentials: they are never shown or stored, only counted.
 */
import { InvalidInputError } from './errors.js';

/** Largest init message, in bytes. */
const MAX_INIT_MESSAGE_BYTES = 1024 * 1024;
/** Seconds a connection waits for its ready message unless told otherwise (`--ready-timeout`, a deployed config). */
export const DEFAULT_READY_TIMEOUT_SECONDS = 10;
/** How much of a message the ready and error checks read, in characters. */
export const MESSAGE_CHECK_LENGTH = 64 * 1024;

/** What the ready message looks like: it contains `text`, or matches a regular expression. */
export type ReadyMatcher = { kind: 'text'; text: string } | { kind: 'regex'; source: string; flags: string };

/** How a session is set up on each connection. `initMessages` may hold secrets and templates. */
export interface SessionSettings {
  initMessages: string[];
  /** Absent: the connection counts as open at the upgrade, once the init messages are sent. */
  readyWhen?: ReadyMatcher;
  readyTimeoutSeconds: number;
}

/** The session settings as they may be shown and stored: the init messages counted, never quoted. */
export interface PublicSessionSettings {
  initMessages: number;
  readyWhen?: string;
  readyTimeoutSeconds: number;
}

/** Reads a file named by `@path` as UTF-8 text; throws (with a Node error code) when it cannot. */
export type TextFileReader = (path: string) => string;

/**
 * The `--ready-when` value: `/source/flags` is a regular expression (flags from `imsu`), anything else is text the
 * message must contain.
 */
export function parseReadyWhen(text: string, field: string): ReadyMatcher {
  if (text === '') throw new InvalidInputError(field, 'must not be empty: give text the message contains, or /regex/');
  const regex = /^\/(.+)\/([a-z]*)$/s.exec(text);
  if (!regex) return { kind: 'text', text };
  const [, source = '', flags = ''] = regex;
  if (!/^[imsu]*$/.test(flags) || new Set(flags).size !== flags.length) {
    throw new InvalidInputError(field, `regular expression flags may be i, m, s and u, got "${flags}"`);
  }
  try {
    new RegExp(source, flags);
  } catch (error) {
    throw new InvalidInputError(field, `is not a valid regular expression: ${(error as Error).message}`);
  }
  return { kind: 'regex', source, flags };
}

/** The matcher as written on the command line: `connection_ack` or `/"type":"ready"/i`. */
function describeReadyWhen(matcher: ReadyMatcher): string {
  return matcher.kind === 'text' ? matcher.text : `/${matcher.source}/${matcher.flags}`;
}

/** A function that tells whether a message is the ready message. */
export function readyTest(matcher: ReadyMatcher): (message: string) => boolean {
  if (matcher.kind === 'text') return (message) => message.slice(0, MESSAGE_CHECK_LENGTH).includes(matcher.text);
  const regex = new RegExp(matcher.source, matcher.flags);
  return (message) => regex.test(message.slice(0, MESSAGE_CHECK_LENGTH));
}

/**
 * One `--init-message` value: the text itself, or with a leading `@` the contents of that file. Errors name `field`
 * and the file, never the contents.
 */
export function resolveInitMessage(value: string, field: string, readFile: TextFileReader): string {
  let message = value;
  let from = 'the message';
  if (value.startsWith('@')) {
    const path = value.slice(1);
    from = `@${path}`;
    if (path === '') throw new InvalidInputError(field, '@ must be followed by a file name, e.g. @init.json');
    try {
      message = readFile(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new InvalidInputError(field, `cannot read ${from} (${code})`);
    }
  }
  if (message === '') throw new InvalidInputError(field, `${from} is empty`);
  const bytes = new TextEncoder().encode(message).length;
  if (bytes > MAX_INIT_MESSAGE_BYTES) {
    throw new InvalidInputError(field, `${from} has ${bytes} bytes; at most ${MAX_INIT_MESSAGE_BYTES}`);
  }
  return message;
}

/** The settings as they may be shown and stored. */
export function publicSessionSettings(settings: SessionSettings): PublicSessionSettings {
  return {
    initMessages: settings.initMessages.length,
    ...(settings.readyWhen ? { readyWhen: describeReadyWhen(settings.readyWhen) } : {}),
    readyTimeoutSeconds: settings.readyTimeoutSeconds,
  };
}
