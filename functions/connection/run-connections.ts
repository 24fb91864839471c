/**
 * The connections of a run, made from its settings: the target URL, header
 * values and init messages read as templates, the URL provider (one for the
 * whole run, so its rate is the run's however many shards share it), the
 * signer the caller injects (the SigV4 adapter), the source addresses, and
 * the secrets every connection holds. Each plan gets a recipe for its number
 * of shards (`{{n}}` is unique in the plan); every plan of a command shares
 * the provider, which is let go of by `close` at the end.
 */
import { randomUUID } from 'node:crypto';
import {
  envSecretsOf,
  expandUrlTemplate,
  parseHeaderTemplates,
  parseTemplate,
  parseUrlTemplate,
  type ConnectionTemplate,
} from '../engine/connection-template.js';
import { parseSessionUrlSource, type SessionUrlSource } from '../engine/session-url-source.js';
import type { ProbeSettings } from '../engine/types.js';
import type { ConnectionRecipe } from './connection-recipe.js';
import { SessionUrlProvider } from './session-url-provider.js';

/** Where the flags' errors would point, had the settings not been checked already (they were, by the caller). */
const FIELDS = {
  url: 'url',
  headers: '--header',
  initMessage: '--init-message',
  source: {
    from: '--session-url-from',
    path: '--session-url-path',
    headers: '--session-url-header',
    body: '--session-url-body',
  },
};

/** What the connections of a run need besides its settings. */
export interface RunConnectionDependencies {
  /** The environment `{{env:NAME}}` reads (checked when the settings were). */
  env: Readonly<Record<string, string | undefined>>;
  /** Signs an upgrade URL, when the settings ask for SigV4 (functions/adapters/sigv4-url-signer.ts). */
  sign?: (url: string) => Promise<string>;
  /** Epoch milliseconds, for the URL provider's pacing; default Date.now. */
  now?: () => number;
}

/** What one shard of an experiment changes in the run's connections: its headers or its source addresses. */
export type ConnectionVariant = Partial<Pick<ProbeSettings, 'headers' | 'sourceAddresses'>>;

/** The connections of a run: a recipe per plan, and what they share. */
export interface RunConnections {
  /**
   * The recipe of a plan of `shards` shards, with `variant`'s headers (all of them, checked as the run's are) or
   * source addresses instead of the run's when given: diagnose's limit-scope experiment opens a shard from a second
   * address or with a second credential.
   */
  recipeFor(shards: number, variant?: ConnectionVariant): ConnectionRecipe;
  /** Seconds a connection's session set-up may take (the URL provider's timeout); absent without a provider. */
  setupTimeoutSeconds?: number;
  /** Lets go of the URL provider's kept-alive sockets. */
  close(): void;
}

/** The settings connections are made from. */
export type ConnectionSettings = Pick<
  ProbeSettings,
  'url' | 'headers' | 'session' | 'sessionUrlSource' | 'sourceAddresses'
>;

/** The connections of a run with `settings`, validated. */
export function runConnections(settings: ConnectionSettings, deps: RunConnectionDependencies): RunConnections {
  const { env } = deps;
  const options = { session: settings.sessionUrlSource !== undefined };
  const url = parseUrlTemplate(settings.url, FIELDS.url, env, options);
  const headers = parseHeaderTemplates(settings.headers, FIELDS.headers, env, options);
  const initMessages = (settings.session?.initMessages ?? []).map((message) =>
    parseTemplate(message, FIELDS.initMessage, options),
  );
  const source = settings.sessionUrlSource && parseSessionUrlSource(settings.sessionUrlSource, FIELDS.source, env);
  const targetHost = hostOf(expandUrlTemplate(url, { n: 0, shard: 0, uuid: '', env, session: 'session' }));
  const provider =
    source && new SessionUrlProvider(source, { now: deps.now ?? Date.now, allowHost: (host) => host === targetHost });
  const templates = [url, ...Object.values(headers), ...initMessages, ...(source ? providerTemplates(source) : [])];
  const common = {
    url,
    headers,
    initMessages,
    env,
    sourceAddresses: settings.sourceAddresses ?? [],
    secrets: [...envSecretsOf(templates, env), ...partsOfSecrets(settings)],
    uuid: randomUUID,
    ...(provider ? { provider: provider.fetch.bind(provider) } : {}),
    ...(deps.sign ? { sign: deps.sign } : {}),
  };
  const varied = (variant: ConnectionVariant): Partial<ConnectionRecipe> => {
    const changed: Partial<ConnectionRecipe> = {};
    if (variant.sourceAddresses) changed.sourceAddresses = variant.sourceAddresses;
    if (variant.headers) {
      const own = parseHeaderTemplates(variant.headers, FIELDS.headers, env, options);
      const parts = partsOfSecrets({ ...settings, headers: variant.headers });
      changed.headers = own;
      changed.secrets = [...common.secrets, ...envSecretsOf(Object.values(own), env), ...parts];
    }
    return changed;
  };
  return {
    recipeFor: (shards, variant) => ({ ...common, ...(variant ? varied(variant) : {}), shards }),
    ...(source ? { setupTimeoutSeconds: source.timeoutSeconds } : {}),
    close: () => provider?.close(),
  };
}

/**
 * Pieces of what the probe sends that a server may echo on their own: each word of a header value (the token of
 * `Bearer <token>`) and each string value of an init message (a token in its JSON payload). The whole values are
 * secrets of every connection already.
 */
function partsOfSecrets(settings: ConnectionSettings): string[] {
  const words = Object.values(settings.headers).flatMap((value) => value.split(/[\s,;]+/));
  const quoted = (settings.session?.initMessages ?? []).flatMap((message) =>
    // String values, but the message's type or event name (connection_init), which is no secret.
    [...message.matchAll(/"(?:type|event)"\s*:\s*"[^"]*"|:\s*"((?:[^"\\]|\\.)*)"/g)].map((match) => match[1] ?? ''),
  );
  return [...new Set([...words, ...quoted].filter((part) => part.length >= MIN_PART_LENGTH && !part.includes('{{')))];
}

/** Shortest piece kept out of excerpts: shorter ones ("type", "id") are names, not secrets. */
const MIN_PART_LENGTH = 6;

/** The templates of a URL provider: its URL, header values and body. */
function providerTemplates(source: SessionUrlSource): ConnectionTemplate[] {
  return [source.url, ...Object.values(source.headers), ...(source.body ? [source.body] : [])];
}

/** The host name of a URL, or undefined when it does not parse. */
function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}
