// Tests of making each connection from the shard's recipe: templates filled in with one uuid per connection, {{n}}
// across shards, source addresses in turn, the provider's value as the URL or as {{session}} (from the simulator's URL
// provider endpoint on 127.0.0.1), signing after the provider, failures as failed preparations, and the secrets each
// prepared connection lists for redaction.
import { afterEach, describe, expect, it } from 'vitest';
import {
  fixedConnection,
  prepareConnection,
  type ConnectionRecipe,
} from '../../functions/connection/connection-recipe.js';
import { SessionUrlProvider } from '../../functions/connection/session-url-provider.js';
import {
  envSecretsOf,
  parseHeaderTemplates,
  parseTemplate,
  parseUrlTemplate,
} from '../../functions/engine/connection-template.js';
import { parseSessionUrlSource } from '../../functions/engine/session-url-source.js';
import { startUrlProviderEndpoint, type RunningUrlProvider } from '../../functions/simulator/url-provider-endpoint.js';

const ENV = { TOKEN: 'tok-sekrit' };
const OPTIONS = { session: true };

const endpoints: RunningUrlProvider[] = [];
const providers: SessionUrlProvider[] = [];

afterEach(async () => {
  providers.splice(0).forEach((provider) => provider.close());
  await Promise.all(endpoints.splice(0).map((endpoint) => endpoint.stop()));
});

function recipe(
  url: string,
  headers: Record<string, string>,
  initMessages: string[],
  more: Partial<ConnectionRecipe> = {},
): ConnectionRecipe {
  const headerTemplates = parseHeaderTemplates(headers, '--header', ENV, OPTIONS);
  const messages = initMessages.map((message) => parseTemplate(message, '--init-message', OPTIONS));
  const urlTemplate = parseUrlTemplate(url, 'url', ENV, OPTIONS);
  let uuids = 0;
  return {
    url: urlTemplate,
    headers: headerTemplates,
    initMessages: messages,
    env: ENV,
    shards: 2,
    sourceAddresses: [],
    secrets: [...envSecretsOf([urlTemplate, ...Object.values(headerTemplates), ...messages], ENV)],
    uuid: () => `00000000-0000-4000-8000-${String((uuids += 1)).padStart(12, '0')}`,
    ...more,
  };
}

async function providerFor(answer: 'url' | 'token', path: string): Promise<SessionUrlProvider> {
  const endpoint = await startUrlProviderEndpoint({ targetUrl: 'ws://127.0.0.1:9', answer });
  endpoints.push(endpoint);
  const source = parseSessionUrlSource(
    { from: `POST ${endpoint.url}`, path, headers: {}, timeoutSeconds: 2 },
    { from: 'f', path: 'p', headers: 'h', body: 'b' },
    ENV,
  );
  const provider = new SessionUrlProvider(source, { now: Date.now, allowHost: (host) => host === '127.0.0.1' });
  providers.push(provider);
  return provider;
}

describe('fixedConnection', () => {
  it('is made once when nothing varies, and not at all when something does', () => {
    const fixed = fixedConnection(recipe('wss://chat.example.com/s', { Authorization: 'Bearer abc' }, ['{"a":1}']));
    expect(fixed).toEqual({
      url: 'wss://chat.example.com/s',
      headers: { Authorization: 'Bearer abc' },
      initMessages: ['{"a":1}'],
      secrets: ['{"a":1}', 'Bearer abc'],
    });
    expect(fixedConnection(recipe('wss://chat.example.com/{{n}}', {}, []))).toBeUndefined();
    const addresses = { sourceAddresses: ['127.0.0.1', '127.0.0.2'] };
    expect(fixedConnection(recipe('wss://chat.example.com/s', {}, [], addresses))).toBeUndefined();
    expect(fixedConnection(recipe('wss://a/s', {}, [], { sign: (url) => Promise.resolve(url) }))).toBeUndefined();
  });
});

describe('prepareConnection', () => {
  it('fills in each connection’s values, one uuid in all of them, and spreads the source addresses', async () => {
    const made = recipe(
      'wss://chat.example.com/rooms/{{n}}?token={{env:TOKEN}}',
      { 'X-Client': 'probe-{{uuid}}', Authorization: 'Bearer {{env:TOKEN}}' },
      ['{"type":"connection_init","payload":{"id":"{{uuid}}","shard":{{shard}}}}'],
      { sourceAddresses: ['127.0.0.1', '127.0.0.2', '127.0.0.3'] },
    );
    const prepared = await prepareConnection(made, 2, 1);
    expect(prepared).toMatchObject({ ok: true, setupMs: 0, waitedMs: 0 });
    if (!prepared.ok) return;
    // Connection 2 of shard 1 of 2 is number 5; shard 1 takes the addresses in turn from the second, so its
    // connection 2 leaves from the first ((2 + 1) mod 3).
    expect(prepared.connection).toMatchObject({
      url: 'wss://chat.example.com/rooms/5?token=tok-sekrit',
      headers: { 'X-Client': 'probe-00000000-0000-4000-8000-000000000001', Authorization: 'Bearer tok-sekrit' },
      initMessages: ['{"type":"connection_init","payload":{"id":"00000000-0000-4000-8000-000000000001","shard":1}}'],
      localAddress: '127.0.0.1',
    });
    expect(prepared.connection.secrets).toEqual(
      expect.arrayContaining(['tok-sekrit', 'Bearer tok-sekrit', prepared.connection.initMessages[0]]),
    );
  });

  it('opens the URL a provider hands out, then signs it, and keeps the URL’s token as a secret', async () => {
    const provider = await providerFor('url', 'data.url');
    const made = recipe('ws://127.0.0.1:9/socket', {}, [], {
      provider: provider.fetch.bind(provider),
      sign: (url) => Promise.resolve(`${url}&X-Amz-Signature=abc123`),
    });
    const prepared = await prepareConnection(made, 0, 0);
    if (!prepared.ok) throw new Error(`expected a connection, got ${JSON.stringify(prepared)}`);
    const url = new URL(prepared.connection.url);
    expect(url.pathname).toMatch(/^\/s\/1$/);
    expect(url.searchParams.get('X-Amz-Signature')).toBe('abc123');
    expect(prepared.connection.secrets).toContain(url.searchParams.get('token'));
  });

  it('fills {{session}} with a provider’s token wherever a template asks for it', async () => {
    const provider = await providerFor('token', 'token');
    const made = recipe('ws://127.0.0.1:9/socket', { Authorization: 'Session {{session}}' }, [], {
      provider: provider.fetch.bind(provider),
    });
    const prepared = await prepareConnection(made, 0, 0);
    if (!prepared.ok) throw new Error(`expected a connection, got ${JSON.stringify(prepared)}`);
    const token = prepared.connection.headers.Authorization?.replace('Session ', '') ?? '';
    expect(endpoints[0]!.isIssued(token)).toBe(true);
    expect(prepared.connection.url).toBe('ws://127.0.0.1:9/socket');
    expect(prepared.connection.secrets).toContain(token);
  });

  it('fails the preparation when the provider or the signer fails, with no URL', async () => {
    const refused = recipe('ws://127.0.0.1:9/socket', {}, [], {
      provider: () =>
        Promise.resolve({
          ok: false,
          failure: { reason: 'status', status: 429, retryAfter: '3' },
          setupMs: 4,
          waitedMs: 1,
        }),
    });
    expect(await prepareConnection(refused, 0, 0)).toEqual({
      ok: false,
      failure: { reason: 'status', status: 429, retryAfter: '3' },
      setupMs: 4,
      waitedMs: 1,
    });
    const unsigned = recipe('ws://127.0.0.1:9/socket', {}, [], {
      sign: () => Promise.reject(Object.assign(new Error('expired'), { name: 'ExpiredTokenException' })),
    });
    expect(await prepareConnection(unsigned, 0, 0)).toEqual({
      ok: false,
      failure: { reason: 'signing', errorName: 'ExpiredTokenException' },
      setupMs: 0,
      waitedMs: 0,
    });
  });
});
