// Tests of the URL provider client against the simulator's URL provider endpoint on 127.0.0.1: the value as a URL or
// a token, templates filled in, and each session-setup failure (HTTP status with Retry-After, timeout, network error,
// a response without a usable value, a host the probe may not connect to), none of which quotes the response; and
// the provider's own rate.
import { afterEach, describe, expect, it } from 'vitest';
import { SessionUrlProvider, type SessionValueUse } from '../../functions/connection/session-url-provider.js';
import type { ConnectionValues } from '../../functions/engine/connection-template.js';
import { parseSessionUrlSource, type SessionUrlSourceFlags } from '../../functions/engine/session-url-source.js';
import {
  startUrlProviderEndpoint,
  type RunningUrlProvider,
  type UrlProviderEndpointOptions,
} from '../../functions/simulator/url-provider-endpoint.js';
import { closedPort } from '../support/ports.js';

const TARGET = 'ws://127.0.0.1:9';
const FIELDS = { from: '--session-url-from', path: '--session-url-path', headers: '--session-url-header', body: 'b' };
const ENV = { API_KEY: 'key-sekrit' };

const endpoints: RunningUrlProvider[] = [];
const providers: SessionUrlProvider[] = [];

afterEach(async () => {
  providers.splice(0).forEach((provider) => provider.close());
  await Promise.all(endpoints.splice(0).map((endpoint) => endpoint.stop()));
});

async function endpoint(options: Partial<UrlProviderEndpointOptions> = {}): Promise<RunningUrlProvider> {
  const running = await startUrlProviderEndpoint({ targetUrl: TARGET, answer: 'url', ...options });
  endpoints.push(running);
  return running;
}

function provider(url: string, flags: Partial<SessionUrlSourceFlags> = {}): SessionUrlProvider {
  const source = parseSessionUrlSource(
    { from: `POST ${url}`, path: 'data.url', headers: {}, timeoutSeconds: 2, ...flags },
    FIELDS,
    ENV,
  );
  const created = new SessionUrlProvider(source, { now: Date.now, allowHost: (host) => host === '127.0.0.1' });
  providers.push(created);
  return created;
}

function values(n: number): ConnectionValues {
  return { n, shard: 0, uuid: `00000000-0000-4000-8000-00000000000${n}`, env: ENV };
}

const fetchOne = (created: SessionUrlProvider, n = 0, use: SessionValueUse = 'url') => created.fetch(values(n), use);

describe('SessionUrlProvider', () => {
  it('hands out one URL per connection, with templates filled in the body and headers', async () => {
    const running = await endpoint({ requireHeader: { name: 'X-Api-Key', value: 'key-sekrit' } });
    const created = provider(running.url, {
      headers: { 'X-Api-Key': '{{env:API_KEY}}' },
      body: '{"user":"probe-{{n}}"}',
    });
    const [first, second] = await Promise.all([fetchOne(created, 0), fetchOne(created, 1)]);
    expect(first.ok && first.value).toMatch(/^ws:\/\/127\.0\.0\.1:9\/s\/\d\?token=/);
    expect(second.ok && first.ok && second.value !== first.value).toBe(true);
    const token = first.ok ? new URL(first.value).searchParams.get('token') : null;
    expect(running.isIssued(token ?? '')).toBe(true);
    expect(running.stats().bodies.sort()).toEqual(['{"user":"probe-0"}', '{"user":"probe-1"}']);
  });

  it('hands out a token to fill {{session}}, which need not be a URL', async () => {
    const running = await endpoint({ answer: 'token' });
    const outcome = await fetchOne(provider(running.url, { path: 'token' }), 0, 'session');
    expect(outcome.ok && running.isIssued(outcome.value)).toBe(true);
  });

  it('reports an HTTP status with its Retry-After: the REST API’s rate limit, apart from the upgrades', async () => {
    const running = await endpoint({ rateLimit: { perSecond: 0.1, burst: 2, retryAfterSeconds: 7 } });
    const created = provider(running.url);
    const outcomes = await Promise.all([0, 1, 2].map((n) => fetchOne(created, n)));
    expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(2);
    expect(outcomes.find((outcome) => !outcome.ok)).toMatchObject({
      ok: false,
      failure: { reason: 'status', status: 429, retryAfter: '7' },
    });
  });

  it('reports a missing credential as HTTP 401 and a spent quota as HTTP 503', async () => {
    const guarded = await endpoint({ requireHeader: { name: 'X-Api-Key', value: 'key-sekrit' } });
    expect(await fetchOne(provider(guarded.url))).toMatchObject({ ok: false, failure: { status: 401 } });
    const capped = await endpoint({ cap: 1 });
    const created = provider(capped.url);
    expect((await fetchOne(created, 0)).ok).toBe(true);
    expect(await fetchOne(created, 1)).toMatchObject({ ok: false, failure: { reason: 'status', status: 503 } });
  });

  it('gives up after its own timeout', async () => {
    const running = await endpoint({ delayMs: 1500 });
    expect(await fetchOne(provider(running.url, { timeoutSeconds: 0.2 }))).toMatchObject({
      ok: false,
      failure: { reason: 'timeout' },
    });
  });

  it('reports a network error by its code', async () => {
    const port = await closedPort();
    expect(await fetchOne(provider(`http://127.0.0.1:${port}/sessions`))).toMatchObject({
      ok: false,
      failure: { reason: 'network', errorCode: 'ECONNREFUSED' },
    });
  });

  it('says what is wrong with a response in fixed words, never quoting it', async () => {
    const malformed = await endpoint({ malformed: true });
    expect(await fetchOne(provider(malformed.url))).toMatchObject({
      ok: false,
      failure: { reason: 'bad-response', detail: 'the response is not JSON' },
    });
    const tokens = await endpoint({ answer: 'token' });
    const missing = await fetchOne(provider(tokens.url));
    expect(missing).toMatchObject({ failure: { detail: 'the response has no text at data.url' } });
    const notUrl = await fetchOne(provider(tokens.url, { path: 'token' }), 0, 'url');
    expect(notUrl).toMatchObject({ failure: { reason: 'bad-response', detail: 'the value at token is not a URL' } });
    expect(JSON.stringify([missing, notUrl])).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}/);
  });

  it('refuses a URL on a host the probe may not connect to', async () => {
    const running = await endpoint({ targetUrl: 'wss://elsewhere.example.com' });
    expect(await fetchOne(provider(running.url))).toMatchObject({
      ok: false,
      failure: { reason: 'bad-response', detail: 'the URL at data.url is on a host the probe may not connect to' },
    });
  });

  it('paces its calls at its own rate', async () => {
    const running = await endpoint();
    const created = provider(running.url, { ratePerSecond: 10 });
    const outcomes = await Promise.all([0, 1, 2].map((n) => fetchOne(created, n)));
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    expect(outcomes[0]!.waitedMs).toBeLessThan(100);
    expect(outcomes[2]!.waitedMs).toBeGreaterThanOrEqual(190);
  });

  it('ends a call the probe cancels', async () => {
    const running = await endpoint({ delayMs: 1500 });
    const controller = new AbortController();
    const pending = provider(running.url).fetch(values(0), 'url', controller.signal);
    setTimeout(() => controller.abort(), 50);
    expect(await pending).toMatchObject({ ok: false, failure: { reason: 'network', errorCode: 'ABORT_ERR' } });
  });
});
