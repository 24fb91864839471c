/**
 * Per-connection templates in the target URL, header values and init
 * messages: `{{n}}` (the connection's number in the run), `{{shard}}`,
 * `{{uuid}}` (one per connection), `{{env:NAME}}` (an environment variable,
 * read when the flags are checked) and `{{session}}` (the value a URL provider
 * handed out for this connection). A template is parsed once, with an error
 * that names the field and the bad `{{…}}`; it is expanded for each
 * connection from values the caller gives, so this module reads no
 * environment and makes no uuid of its own.
 *
 * What an environment variable or a provider holds may be secret: expanded
 * values are never shown; a template is shown as written (it holds names,
 * not values), through {@link displayUrlTemplate} for a URL.
 */
import { InvalidInputError } from './errors.js';
import { REDACTED, redactUrl } from './redact.js';

/** One piece of a template: literal text or a value filled in per connection. */
export type TemplatePart =
  | { kind: 'text'; text: string }
  | { kind: 'n' }
  | { kind: 'shard' }
  | { kind: 'uuid' }
  | { kind: 'session' }
  | { kind: 'env'; name: string };

/** A parsed template. `parts` is one text part for a value without templates. */
export interface ConnectionTemplate {
  /** The text as written (names only, no values): safe to show. */
  readonly source: string;
  readonly parts: readonly TemplatePart[];
}

/** What a template may use besides `{{n}}`, `{{shard}}`, `{{uuid}}` and `{{env:NAME}}`. */
export interface TemplateOptions {
  /** `{{session}}` is allowed only with a URL provider (`--session-url-from`). */
  session: boolean;
}

/** The values of one connection. */
export interface ConnectionValues {
  /** The connection's number in the run, unique across shards (see {@link connectionNumber}). */
  n: number;
  shard: number;
  /** One uuid per connection: `{{uuid}}` is the same in the URL, the headers and the init messages. */
  uuid: string;
  /** The environment the templates were checked against. */
  env: Readonly<Record<string, string | undefined>>;
  /** The value a URL provider handed out for this connection, when there is one. */
  session?: string;
}

const TEMPLATE = /\{\{([^{}]*)\}\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const WHAT_IS_ALLOWED = 'use {{n}}, {{shard}}, {{uuid}}, {{env:NAME}} or {{session}}';
/** Longest piece of a bad template quoted in an error. */
const QUOTE_LIMIT = 40;

/**
 * Parses `source`; throws InvalidInputError naming `field` and the bad `{{…}}` (an unknown name, a bad environment
 * variable name, an unclosed `{{`, or `{{session}}` without a URL provider).
 */
export function parseTemplate(source: string, field: string, options: TemplateOptions): ConnectionTemplate {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of source.matchAll(TEMPLATE)) {
    pushText(parts, source.slice(last, match.index), field);
    parts.push(partOf(match[1] ?? '', match[0], field, options));
    last = match.index + match[0].length;
  }
  pushText(parts, source.slice(last), field);
  return { source, parts };
}

function pushText(parts: TemplatePart[], text: string, field: string): void {
  const open = text.indexOf('{{');
  if (open >= 0) {
    throw new InvalidInputError(field, `template "${quote(text.slice(open))}" is not closed with }}`);
  }
  if (text !== '') parts.push({ kind: 'text', text });
}

function partOf(inner: string, whole: string, field: string, options: TemplateOptions): TemplatePart {
  const name = inner.trim();
  if (name === 'n' || name === 'shard' || name === 'uuid') return { kind: name };
  if (name === 'session') {
    if (!options.session) throw new InvalidInputError(field, '{{session}} needs --session-url-from');
    return { kind: 'session' };
  }
  if (name.startsWith('env:')) {
    const variable = name.slice('env:'.length).trim();
    if (!ENV_NAME.test(variable)) {
      throw new InvalidInputError(
        field,
        `${quote(whole)}: an environment variable name is letters, digits and _, not starting with a digit`,
      );
    }
    return { kind: 'env', name: variable };
  }
  throw new InvalidInputError(field, `unknown template ${quote(whole)}: ${WHAT_IS_ALLOWED}`);
}

function quote(text: string): string {
  return text.length > QUOTE_LIMIT ? `${text.slice(0, QUOTE_LIMIT)}…` : text;
}

/** Whether the template has anything to fill in. */
export function isConstant(template: ConnectionTemplate): boolean {
  return template.parts.every((part) => part.kind === 'text');
}

/** The environment variables a template reads. */
function envNamesOf(template: ConnectionTemplate): string[] {
  return template.parts.flatMap((part) => (part.kind === 'env' ? [part.name] : []));
}

/** Whether the template uses `{{session}}`. */
export function usesSession(template: ConnectionTemplate): boolean {
  return template.parts.some((part) => part.kind === 'session');
}

/**
 * Checks that every environment variable the templates read is set in `env`; throws InvalidInputError naming `field`
 * and the variable (never its value).
 */
export function checkEnvironment(
  templates: readonly ConnectionTemplate[],
  env: Readonly<Record<string, string | undefined>>,
  field: string,
): void {
  for (const name of templates.flatMap(envNamesOf)) {
    if (env[name] === undefined) throw new InvalidInputError(field, `{{env:${name}}} is not set in the environment`);
  }
}

/**
 * The values of environment variables the templates read: secrets, for redaction. Empty values are left out (there is
 * nothing to hide).
 */
export function envSecretsOf(
  templates: readonly ConnectionTemplate[],
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  const values = templates.flatMap(envNamesOf).map((name) => env[name] ?? '');
  return [...new Set(values.filter((value) => value !== ''))];
}

/**
 * The template with one connection's values filled in. `encode` is applied to every filled-in value (the URL's
 * encoding, see {@link expandUrlTemplate}); literal text is kept as written.
 */
export function expandTemplate(
  template: ConnectionTemplate,
  values: ConnectionValues,
  encode: (value: string, index: number) => string = (value) => value,
): string {
  let out = '';
  template.parts.forEach((part, index) => {
    out += part.kind === 'text' ? part.text : encode(valueOf(part, values), index);
  });
  return out;
}

function valueOf(part: Exclude<TemplatePart, { kind: 'text' }>, values: ConnectionValues): string {
  switch (part.kind) {
    case 'n':
      return String(values.n);
    case 'shard':
      return String(values.shard);
    case 'uuid':
      return values.uuid;
    case 'session':
      return values.session ?? '';
    case 'env':
      return values.env[part.name] ?? '';
  }
}

/**
 * The number `{{n}}` gives connection `id` (its sequence number in its shard) of `shard` in a run of `shards` shards:
 * ids interleaved across shards, so numbers are unique in the run, start at 0 and, since the plan splits every stage
 * evenly, stay below the run's largest stage plus the shard count. It holds for stages added while running
 * (diagnose's refinement) too, which no precomputed numbering would.
 */
export function connectionNumber(id: number, shard: number, shards: number): number {
  return id * shards + shard;
}

/**
 * The parts of a URL template whose values are percent-encoded: those after the authority (in the path, query or
 * fragment). A value in the scheme or authority, or a template that is the whole URL, goes in as it is.
 */
function encodedParts(template: ConnectionTemplate): Set<number> {
  const encoded = new Set<number>();
  let literal = '';
  let inPath = false;
  template.parts.forEach((part, index) => {
    if (part.kind === 'text') {
      literal += part.text;
      const scheme = literal.indexOf('://');
      inPath = scheme >= 0 && /[/?#]/.test(literal.slice(scheme + 3));
    } else if (inPath) encoded.add(index);
  });
  return encoded;
}

/** A URL template for the target: parsed, with the parts whose values are percent-encoded. */
export interface UrlTemplate extends ConnectionTemplate {
  readonly encoded: ReadonlySet<number>;
}

/** The schemes a URL template may expand to: the target's, or a URL provider's. */
export type UrlSchemes = 'websocket' | 'http';

const SCHEMES: Record<UrlSchemes, { protocols: string[]; words: string; example: string }> = {
  websocket: { protocols: ['ws:', 'wss:'], words: 'ws:// or wss://', example: 'wss://chat.example.com/socket' },
  http: { protocols: ['http:', 'https:'], words: 'http:// or https://', example: 'https://api.example.com/sessions' },
};

/**
 * Parses and checks a URL template: every template known, every environment variable set, and the URL with sample
 * values one of `schemes` (the target's ws:// or wss:// by default). Errors name `field`; they quote templates, never
 * an expanded value.
 */
export function parseUrlTemplate(
  source: string,
  field: string,
  env: Readonly<Record<string, string | undefined>>,
  options: TemplateOptions,
  schemes: UrlSchemes = 'websocket',
): UrlTemplate {
  const template = parseTemplate(source, field, options);
  checkEnvironment([template], env, field);
  const url = { ...template, encoded: encodedParts(template) };
  const { protocols, words, example } = SCHEMES[schemes];
  let parsed: URL;
  try {
    parsed = new URL(expandUrlTemplate(url, sampleValues(env)));
  } catch {
    const how = isConstant(template) ? '' : ' (with its templates filled in)';
    throw new InvalidInputError(field, `must be a ${words} URL${how}, e.g. ${example}`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new InvalidInputError(field, `must use ${words}, got ${parsed.protocol}//`);
  }
  return url;
}

/** The URL of one connection: values after the authority percent-encoded, those before it as they are. */
export function expandUrlTemplate(template: UrlTemplate, values: ConnectionValues): string {
  return expandTemplate(template, values, (value, index) =>
    template.encoded.has(index) ? encodeURIComponent(value) : value,
  );
}

/**
 * Checks header value templates: every template known and every environment variable set and free of line breaks
 * and NUL (a header value cannot hold them). Errors name `field` and the header, never a value.
 */
export function parseHeaderTemplates(
  headers: Readonly<Record<string, string>>,
  field: string,
  env: Readonly<Record<string, string | undefined>>,
  options: TemplateOptions,
): Record<string, ConnectionTemplate> {
  const templates: Record<string, ConnectionTemplate> = {};
  for (const [name, value] of Object.entries(headers)) {
    const template = parseTemplate(value, `${field} ${name}`, options);
    checkEnvironment([template], env, `${field} ${name}`);
    const bad = envNamesOf(template).find((variable) => /[\r\n\0]/.test(env[variable] ?? ''));
    if (bad !== undefined) {
      throw new InvalidInputError(
        `${field} ${name}`,
        `{{env:${bad}}} holds a line break or NUL, which a header value cannot`,
      );
    }
    templates[name] = template;
  }
  return templates;
}

/** Values that stand in for a connection's when a template is checked or shown. */
function sampleValues(env: Readonly<Record<string, string | undefined>>): ConnectionValues {
  return { n: 0, shard: 0, uuid: '00000000-0000-4000-8000-000000000000', env, session: 'session' };
}

/**
 * The URL template as it may be shown and stored: credentials removed and every query value `redacted` (as
 * redactUrl does), templates in the path and host kept as written, e.g. `wss://chat.example.com/rooms/{{n}}`.
 */
export function displayUrlTemplate(template: ConnectionTemplate): string {
  const marks = template.parts.map((_, index) => `wsctpl${index}x`);
  const marked = expandTemplate(template, sampleValues({}), (_, index) => marks[index] ?? '');
  let shown: string;
  try {
    shown = redactUrl(marked);
  } catch {
    // A template that is most of the URL ({{env:URL}}): show the template without any query or user-info.
    shown = marked.replace(/\?.*$/s, `?${REDACTED}`).replace(/\/\/[^/@]*@/, '//');
  }
  template.parts.forEach((part, index) => {
    if (part.kind !== 'text') shown = shown.replaceAll(marks[index] ?? '', templateText(part));
  });
  return shown;
}

/**
 * The target URL as it may be shown and stored: a plain URL with its credentials removed and query values
 * `redacted` (redactUrl), a URL with templates as displayUrlTemplate shows it, templates as written.
 */
export function displayTargetUrl(url: string): string {
  if (!url.includes('{{')) return redactUrl(url);
  try {
    return displayUrlTemplate(parseTemplate(url, 'url', { session: true }));
  } catch {
    // Not a template after all (`{{` in a URL that was never checked as one): shown as any URL is.
    return redactUrl(url);
  }
}

function templateText(part: Exclude<TemplatePart, { kind: 'text' }>): string {
  return part.kind === 'env' ? `{{env:${part.name}}}` : `{{${part.kind}}}`;
}
