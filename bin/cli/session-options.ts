/**
 * The flags of endpoints that need more than a URL: a session set up on
 * each connection (`--init-message`, `--ready-when`, `--ready-timeout`), a
 * URL or token handed out per connection (`--session-url-from` and its
 * options), SigV4-signed upgrade URLs (`--sigv4`, `--sigv4-region`,
 * `--sigv4-service`) and a second credential for diagnose
 * (`--alternate-header`). Checked here, with the templates in the URL,
 * headers and init messages, before anything is sent: every error names the
 * flag and what is allowed, never a value, and `@file` names the file, never
 * its contents.
 */
import { readFileSync } from 'node:fs';
import {
  checkEnvironment,
  parseHeaderTemplates,
  parseTemplate,
  parseUrlTemplate,
  type UrlTemplate,
} from '../../functions/engine/connection-template.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
import { DEFAULT_SIGV4_SERVICE, parseExecuteApiHost } from '../../functions/engine/execute-api.js';
import { HARD_MAX_RATE } from '../../functions/engine/limits.js';
import {
  DEFAULT_READY_TIMEOUT_SECONDS,
  parseReadyWhen,
  resolveInitMessage,
  type SessionSettings,
  type TextFileReader,
} from '../../functions/engine/session-settings.js';
import { parseSessionUrlSource, type SessionUrlSourceFlags } from '../../functions/engine/session-url-source.js';
import type { ProbeSettings } from '../../functions/engine/types.js';
import { decimal, parseFlag, secondsFlag } from './flag-numbers.js';

/** Seconds the URL provider may take per call unless `--session-url-timeout` says otherwise. */
const DEFAULT_SESSION_URL_TIMEOUT_SECONDS = 10;

/** The session flags as commander hands them over (repeatable ones may be absent in a caller's own flags). */
export interface RawSessionFlags {
  initMessage?: string[];
  readyWhen?: string;
  readyTimeout?: string;
  sessionUrlFrom?: string;
  sessionUrlPath?: string;
  sessionUrlHeader?: string[];
  sessionUrlBody?: string;
  sessionUrlRate?: string;
  sessionUrlTimeout?: string;
  sigv4?: boolean;
  sigv4Region?: string;
  sigv4Service?: string;
  alternateHeader?: string[];
}

/** What the checks read besides the flags: the environment `{{env:NAME}}` reads, and `@file`s. */
export interface FlagContext {
  env: Readonly<Record<string, string | undefined>>;
  readFile: TextFileReader;
}

/** This process's environment and files. */
export const PROCESS_CONTEXT: FlagContext = {
  env: process.env,
  readFile: (path) => readFileSync(path, 'utf8'),
};

/** The settings the session flags give. */
export type SessionFlagSettings = Pick<ProbeSettings, 'session' | 'sessionUrlSource' | 'sigv4' | 'alternateHeaders'>;

/** Parses a `Name: value` header list for `flag` (the caller's header check), or throws naming `flag`. */
export type HeaderParser = (entries: string[], flag: string) => Record<string, string>;

/**
 * Checks the target URL's and header values' templates and the session flags; returns the URL template and the
 * settings. `headers` are the `--header` values, already checked as headers.
 */
export function parseSessionFlags(
  url: string,
  headers: Record<string, string>,
  raw: RawSessionFlags,
  parseHeaders: HeaderParser,
  context: FlagContext,
): { url: UrlTemplate; settings: SessionFlagSettings } {
  const { env } = context;
  const options = { session: raw.sessionUrlFrom !== undefined };
  const target = parseUrlTemplate(url, 'url', env, options);
  parseHeaderTemplates(headers, '--header', env, options);
  const session = sessionOf(raw, context, options);
  const sessionUrlSource = urlSourceOf(raw, parseHeaders, context);
  const sigv4 = sigv4Of(raw, target, env);
  const alternate = raw.alternateHeader ?? [];
  const alternateHeaders = alternate.length ? parseHeaders(alternate, '--alternate-header') : undefined;
  if (alternateHeaders) parseHeaderTemplates(alternateHeaders, '--alternate-header', env, { session: false });
  return {
    url: target,
    settings: {
      ...(session ? { session } : {}),
      ...(sessionUrlSource ? { sessionUrlSource } : {}),
      ...(sigv4 ? { sigv4 } : {}),
      ...(alternateHeaders ? { alternateHeaders } : {}),
    },
  };
}

/** `--init-message`, `--ready-when` and `--ready-timeout`, or undefined when none is given. */
function sessionOf(
  raw: RawSessionFlags,
  context: FlagContext,
  options: { session: boolean },
): SessionSettings | undefined {
  const given = raw.initMessage ?? [];
  if (raw.readyTimeout !== undefined && raw.readyWhen === undefined) {
    throw new InvalidInputError('--ready-timeout', 'is how long to wait for --ready-when, which is not given');
  }
  if (!given.length && raw.readyWhen === undefined) return undefined;
  const initMessages = given.map((value) => resolveInitMessage(value, '--init-message', context.readFile));
  const templates = initMessages.map((message) => parseTemplate(message, '--init-message', options));
  checkEnvironment(templates, context.env, '--init-message');
  const readyWhen = raw.readyWhen === undefined ? undefined : parseReadyWhen(raw.readyWhen, '--ready-when');
  const readyTimeoutSeconds =
    raw.readyTimeout === undefined
      ? DEFAULT_READY_TIMEOUT_SECONDS
      : parseFlag(secondsFlag(0.1, 300), '--ready-timeout', raw.readyTimeout);
  return { initMessages, ...(readyWhen ? { readyWhen } : {}), readyTimeoutSeconds };
}

/** The URL provider's flags, each other one refused without `--session-url-from`. */
function urlSourceOf(
  raw: RawSessionFlags,
  parseHeaders: HeaderParser,
  context: FlagContext,
): SessionUrlSourceFlags | undefined {
  const options: Array<[string, unknown]> = [
    ['--session-url-path', raw.sessionUrlPath],
    ['--session-url-header', raw.sessionUrlHeader?.length ? raw.sessionUrlHeader : undefined],
    ['--session-url-body', raw.sessionUrlBody],
    ['--session-url-rate', raw.sessionUrlRate],
    ['--session-url-timeout', raw.sessionUrlTimeout],
  ];
  if (raw.sessionUrlFrom === undefined) {
    const stray = options.find(([, value]) => value !== undefined);
    if (stray) throw new InvalidInputError(stray[0], 'is an option of --session-url-from, which is not given');
    return undefined;
  }
  if (raw.sessionUrlPath === undefined) {
    throw new InvalidInputError(
      '--session-url-path',
      "give the JSON path to the URL or token in the provider's answer, e.g. data.url",
    );
  }
  const body = raw.sessionUrlBody === undefined ? undefined : resolveBody(raw.sessionUrlBody, context.readFile);
  const flags: SessionUrlSourceFlags = {
    from: raw.sessionUrlFrom,
    path: raw.sessionUrlPath,
    headers: parseHeaders(raw.sessionUrlHeader ?? [], '--session-url-header'),
    ...(body !== undefined ? { body } : {}),
    ...(raw.sessionUrlRate !== undefined
      ? {
          ratePerSecond: parseFlag(
            decimal(0.1, HARD_MAX_RATE, 'calls per second'),
            '--session-url-rate',
            raw.sessionUrlRate,
          ),
        }
      : {}),
    timeoutSeconds:
      raw.sessionUrlTimeout === undefined
        ? DEFAULT_SESSION_URL_TIMEOUT_SECONDS
        : parseFlag(secondsFlag(0.1, 300), '--session-url-timeout', raw.sessionUrlTimeout),
  };
  parseSessionUrlSource(
    flags,
    {
      from: '--session-url-from',
      path: '--session-url-path',
      headers: '--session-url-header',
      body: '--session-url-body',
    },
    context.env,
  );
  return flags;
}

/** The `--session-url-body` text, or with a leading `@` the contents of that file (named in errors, never quoted). */
function resolveBody(value: string, readFile: TextFileReader): string {
  return resolveInitMessage(value, '--session-url-body', readFile);
}

/** `--sigv4` with its region (from the flag, or an API Gateway host) and service; the others refused without it. */
function sigv4Of(
  raw: RawSessionFlags,
  target: UrlTemplate,
  env: Readonly<Record<string, string | undefined>>,
): ProbeSettings['sigv4'] {
  if (!raw.sigv4) {
    if (raw.sigv4Region !== undefined)
      throw new InvalidInputError('--sigv4-region', 'signs with --sigv4, which is not given');
    if (raw.sigv4Service !== undefined)
      throw new InvalidInputError('--sigv4-service', 'signs with --sigv4, which is not given');
    return undefined;
  }
  const host = hostOf(target, env);
  const region = raw.sigv4Region ?? (host === undefined ? undefined : parseExecuteApiHost(host)?.region);
  if (region === undefined) {
    throw new InvalidInputError(
      '--sigv4-region',
      'give the AWS region to sign for (e.g. eu-west-1): the URL is not an API Gateway host that names it',
    );
  }
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw new InvalidInputError('--sigv4-region', `must be an AWS region like eu-west-1, got "${region}"`);
  }
  const service = raw.sigv4Service ?? DEFAULT_SIGV4_SERVICE;
  if (!/^[a-z0-9-]{1,64}$/.test(service)) {
    throw new InvalidInputError('--sigv4-service', `must be a service name like execute-api, got "${service}"`);
  }
  return { region, service };
}

/** The target's host name with the environment filled in, when it parses. */
function hostOf(target: UrlTemplate, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const expanded = target.parts
    .map((part) => (part.kind === 'text' ? part.text : part.kind === 'env' ? (env[part.name] ?? '') : 'x'))
    .join('');
  try {
    return new URL(expanded).hostname;
  } catch {
    return undefined;
  }
}
