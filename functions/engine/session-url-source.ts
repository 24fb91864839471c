/**
 * Where a target's per-connection URL or token comes from, for endpoints
 * that hand one out per session: `--session-url-from 'POST https://…'` (an
 * HTTP call made before each upgrade), the JSON path to the value in its
 * response, its own headers and body (templates allowed), its own rate and
 * timeout. Parsed here with errors that name the flag; the call itself is
 * the connection layer's (functions/connection/session-url-provider.ts).
 *
 * The value it hands out becomes the connection's URL, or fills `{{session}}`
 * in the target URL, headers and init messages. It is a secret: it is never
 * shown, logged or stored, nor is anything else from the response.
 */
import {
  checkEnvironment,
  displayUrlTemplate,
  parseHeaderTemplates,
  parseTemplate,
  parseUrlTemplate,
  type ConnectionTemplate,
  type UrlTemplate,
} from './connection-template.js';
import { InvalidInputError } from './errors.js';
import { describeJsonPath, parseJsonPath, type JsonPathStep } from './json-path.js';

/** HTTP methods a URL provider may be called with. */
const METHODS = ['GET', 'POST', 'PUT'] as const;
type ProviderMethod = (typeof METHODS)[number];

/** A URL provider, parsed. Header values, the body and the provider URL's query may hold secrets. */
export interface SessionUrlSource {
  method: ProviderMethod;
  url: UrlTemplate;
  headers: Record<string, ConnectionTemplate>;
  body?: ConnectionTemplate;
  /** Where the URL or token is in the JSON response. */
  path: JsonPathStep[];
  /** Calls per second across the shard, when the provider must be paced apart from the upgrades. */
  ratePerSecond?: number;
  /** Seconds a call may take, from sending to the whole response. */
  timeoutSeconds: number;
}

/** The provider flags as given (numbers already checked by the flag parser). */
export interface SessionUrlSourceFlags {
  /** `METHOD URL`, e.g. `POST https://api.example.com/sessions`. */
  from: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  ratePerSecond?: number;
  timeoutSeconds: number;
}

/** The flag names errors use, e.g. `{ from: '--session-url-from', … }`, or config field paths. */
export interface SessionUrlSourceFields {
  from: string;
  path: string;
  headers: string;
  body: string;
}

/**
 * Parses the provider flags against `env` (for `{{env:NAME}}`). The provider's own templates may not use
 * `{{session}}`: there is none before it answers.
 */
export function parseSessionUrlSource(
  flags: SessionUrlSourceFlags,
  fields: SessionUrlSourceFields,
  env: Readonly<Record<string, string | undefined>>,
): SessionUrlSource {
  const options = { session: false };
  const match = /^\s*([A-Za-z]+)\s+(\S.*?)\s*$/s.exec(flags.from);
  const method = match?.[1]?.toUpperCase();
  if (!match || !METHODS.includes(method as ProviderMethod)) {
    throw new InvalidInputError(
      fields.from,
      `must be "${METHODS.join('|')} URL", e.g. "POST https://api.example.com/sessions"`,
    );
  }
  const url = parseUrlTemplate(match[2] ?? '', fields.from, env, options, 'http');
  const body = flags.body === undefined ? undefined : parseTemplate(flags.body, fields.body, options);
  if (body) checkEnvironment([body], env, fields.body);
  if (body && method === 'GET') throw new InvalidInputError(fields.body, 'a GET request has no body: use POST or PUT');
  return {
    method: method as ProviderMethod,
    url,
    headers: parseHeaderTemplates(flags.headers, fields.headers, env, options),
    ...(body ? { body } : {}),
    path: parseJsonPath(flags.path, fields.path),
    ...(flags.ratePerSecond !== undefined ? { ratePerSecond: flags.ratePerSecond } : {}),
    timeoutSeconds: flags.timeoutSeconds,
  };
}

/** The provider as it may be shown and stored: `POST https://api.example.com/sessions?key=redacted -> data.url`. */
export function describeSessionUrlSource(source: SessionUrlSource): string {
  return `${source.method} ${displayUrlTemplate(source.url)} -> ${describeJsonPath(source.path)}`;
}

/** The provider settings as they may be shown and stored: the request and path, header names, no value. */
export interface PublicSessionUrlSource {
  /** `POST https://api.example.com/sessions?key=redacted`: query values and credentials removed. */
  from: string;
  /** The JSON path to the value, e.g. `data.url`. */
  path: string;
  headerNames: string[];
  /** Whether a body is sent (it is never shown). */
  body: boolean;
  ratePerSecond?: number;
  timeoutSeconds: number;
}

/** Provider flags that were validated (by parseSessionUrlSource) as they may be shown and stored. */
export function publicSessionUrlSource(flags: SessionUrlSourceFlags): PublicSessionUrlSource {
  const match = /^\s*([A-Za-z]+)\s+(\S.*?)\s*$/s.exec(flags.from);
  const url = parseTemplate(match?.[2] ?? '', '--session-url-from', { session: false });
  return {
    from: `${match?.[1]?.toUpperCase() ?? ''} ${displayUrlTemplate(url)}`,
    path: describeJsonPath(parseJsonPath(flags.path, '--session-url-path')),
    headerNames: Object.keys(flags.headers).sort(),
    body: flags.body !== undefined,
    ...(flags.ratePerSecond !== undefined ? { ratePerSecond: flags.ratePerSecond } : {}),
    timeoutSeconds: flags.timeoutSeconds,
  };
}
