/**
 * What one connection is opened with, made just before it opens: its number
 * `{{n}}`, its uuid, the URL or token a URL provider hands out (when the
 * target has one), the URL, header values and init messages with their
 * templates filled in, the URL signed (SigV4), and the local address it
 * leaves from. The shard's ConnectionGroup asks for this per attempt; a
 * target without templates, provider, signer or source addresses gets the
 * same connection every time, made once ({@link fixedConnection}).
 *
 * Everything filled in may be secret. The prepared connection carries the
 * list of secrets it holds, so a server that echoes one back in an error
 * never gets it into a record (see secret-excerpt.ts).
 */
import {
  connectionNumber,
  expandTemplate,
  expandUrlTemplate,
  isConstant,
  usesSession,
  type ConnectionTemplate,
  type ConnectionValues,
  type UrlTemplate,
} from '../engine/connection-template.js';
import { sourceAddressOf } from '../engine/source-addresses.js';
import type { SessionSetupFailure } from '../engine/session-setup.js';
import type { SessionUrlOutcome, SessionValueUse } from './session-url-provider.js';

/** The templates and collaborators the connections of a shard are made from. */
export interface ConnectionRecipe {
  url: UrlTemplate;
  headers: Readonly<Record<string, ConnectionTemplate>>;
  initMessages: readonly ConnectionTemplate[];
  env: Readonly<Record<string, string | undefined>>;
  /** Shards in the run, for `{{n}}`. */
  shards: number;
  /** Local addresses, taken in turn by connection number; empty for the system's choice. */
  sourceAddresses: readonly string[];
  /** Secrets every connection holds: header values, the environment values the templates read. */
  secrets: readonly string[];
  /** A fresh uuid per connection (crypto.randomUUID). */
  uuid: () => string;
  /** The URL provider, when the target has one (SessionUrlProvider.fetch). */
  provider?: (values: ConnectionValues, use: SessionValueUse, signal?: AbortSignal) => Promise<SessionUrlOutcome>;
  /** Signs the URL (the SigV4 adapter), when the target needs it. */
  sign?: (url: string) => Promise<string>;
}

/** One connection, ready to open. Every field but `localAddress` may hold secrets. */
export interface PreparedConnection {
  url: string;
  headers: Record<string, string>;
  initMessages: string[];
  localAddress?: string;
  /** What to keep out of excerpts of what the server says. */
  secrets: readonly string[];
}

/** A prepared connection, or the session-setup failure that kept it from opening, with the provider's timing. */
export type Preparation = { setupMs: number; waitedMs: number } & (
  { ok: true; connection: PreparedConnection } | { ok: false; failure: SessionSetupFailure }
);

/**
 * A recipe that takes the URL and header values as they are, reading no template: what a shard opens when its
 * caller gives no recipe of its own. Several source addresses are taken in turn by connection number.
 */
export function literalRecipe(
  url: string,
  headers: Readonly<Record<string, string>>,
  sourceAddresses: readonly string[] = [],
): ConnectionRecipe {
  const literal = (text: string): ConnectionTemplate => ({
    source: text,
    parts: text === '' ? [] : [{ kind: 'text', text }],
  });
  const headerTemplates: Record<string, ConnectionTemplate> = {};
  for (const [name, value] of Object.entries(headers)) headerTemplates[name] = literal(value);
  return {
    url: { ...literal(url), encoded: new Set() },
    headers: headerTemplates,
    initMessages: [],
    env: {},
    shards: 1,
    sourceAddresses,
    secrets: [],
    uuid: () => '',
  };
}

/** The one connection every attempt opens when nothing in the recipe varies; undefined when something does. */
export function fixedConnection(recipe: ConnectionRecipe): PreparedConnection | undefined {
  const templates = [recipe.url, ...Object.values(recipe.headers), ...recipe.initMessages];
  const fixed = templates.every(isConstant) && !recipe.provider && !recipe.sign && recipe.sourceAddresses.length <= 1;
  if (!fixed) return undefined;
  const values: ConnectionValues = { n: 0, shard: 0, uuid: '', env: recipe.env };
  return fill(recipe, values, expandUrlTemplate(recipe.url, values), sourceAddressOf(0, 0, recipe.sourceAddresses));
}

/**
 * Prepares connection `id` of `shard`: asks the provider (if any), fills in the templates, signs the URL (if needed).
 * Never throws: a provider or signing failure is a failed preparation. `signal` cancels a provider call. Without a
 * provider or a signer nothing waits, and the preparation is returned at once (not as a promise).
 */
export function prepareConnection(
  recipe: ConnectionRecipe,
  id: number,
  shard: number,
  signal?: AbortSignal,
): Preparation | Promise<Preparation> {
  const n = connectionNumber(id, shard, recipe.shards);
  const values: ConnectionValues = { n, shard, uuid: recipe.uuid(), env: recipe.env };
  const sourceAddress = sourceAddressOf(id, shard, recipe.sourceAddresses);
  if (recipe.provider || recipe.sign) return prepareAfterCalls(recipe, values, sourceAddress, signal);
  const url = expandUrlTemplate(recipe.url, values);
  return { ok: true, connection: fill(recipe, values, url, sourceAddress), ...NO_WAIT };
}

/** No provider call and no signing: nothing waited for. */
const NO_WAIT = { setupMs: 0, waitedMs: 0 } as const;

/** A preparation that calls the provider or the signer first. */
async function prepareAfterCalls(
  recipe: ConnectionRecipe,
  values: ConnectionValues,
  sourceAddress: string | undefined,
  signal: AbortSignal | undefined,
): Promise<Preparation> {
  let timing: { setupMs: number; waitedMs: number } = NO_WAIT;
  let url: string;
  const secrets: string[] = [];
  if (recipe.provider) {
    const use = providerUse(recipe);
    const outcome = await recipe.provider(values, use, signal);
    timing = { setupMs: outcome.setupMs, waitedMs: outcome.waitedMs };
    if (!outcome.ok) return { ok: false, failure: outcome.failure, ...timing };
    secrets.push(outcome.value);
    if (use === 'session') values.session = outcome.value;
    url = use === 'url' ? outcome.value : expandUrlTemplate(recipe.url, values);
  } else url = expandUrlTemplate(recipe.url, values);
  if (recipe.sign) {
    try {
      url = await recipe.sign(url);
    } catch (error) {
      return { ok: false, failure: { reason: 'signing', errorName: (error as Error).name }, ...timing };
    }
  }
  const connection = fill(recipe, values, url, sourceAddress, secrets);
  return { ok: true, connection, ...timing };
}

/** How the provider's value is used: to fill `{{session}}` where a template asks for it, else as the whole URL. */
function providerUse(recipe: ConnectionRecipe): SessionValueUse {
  const templates = [recipe.url, ...Object.values(recipe.headers), ...recipe.initMessages];
  return templates.some(usesSession) ? 'session' : 'url';
}

function fill(
  recipe: ConnectionRecipe,
  values: ConnectionValues,
  url: string,
  localAddress: string | undefined,
  extraSecrets: readonly string[] = [],
): PreparedConnection {
  const headers: Record<string, string> = {};
  for (const [name, template] of Object.entries(recipe.headers)) headers[name] = expandTemplate(template, values);
  const initMessages = recipe.initMessages.map((template) => expandTemplate(template, values));
  return {
    url,
    headers,
    initMessages,
    ...(localAddress !== undefined ? { localAddress } : {}),
    secrets: [...recipe.secrets, ...extraSecrets, ...urlSecrets(url), ...initMessages, ...Object.values(headers)],
  };
}

/** What a URL holds that is secret, as redactUrl sees it: the password and every query value (a signature, a token). */
function urlSecrets(url: string): string[] {
  const parsed = new URL(url);
  return [decodeURIComponent(parsed.password), ...parsed.searchParams.values()].filter((value) => value !== '');
}
