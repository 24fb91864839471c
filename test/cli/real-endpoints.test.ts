// ws-ceiling run, as a user runs it, against local servers shaped like real endpoints (issue 14): a graphql-ws style
// session gate (--init-message, --ready-when, --ready-timeout), a URL provider (--session-url-from and its options),
// a server that verifies SigV4 signatures with a known key (--sigv4), and a cap kept per source address, which
// --source-address spreads the connections over.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunResult } from '../../functions/engine/types.js';
import { startUrlProviderEndpoint } from '../../functions/simulator/url-provider-endpoint.js';
import { runCli, temporaryStore } from '../support/cli.js';
import { startGatedEndpoint, startScopedEndpoint, type RunningEndpoint } from '../support/real-endpoints.js';
import { startSigV4Server } from '../support/sigv4-server.js';

let store: { directory: string; remove: () => Promise<void> };
const endpoints: RunningEndpoint[] = [];
beforeEach(async () => {
  store = await temporaryStore();
});
afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((endpoint) => endpoint.stop()));
  await store.remove();
});

/** Runs `ws-ceiling run <args> --json` with short stages into the test's store; the run and what was printed. */
async function run(args: readonly string[], environment: Record<string, string> = {}) {
  const result = await runCli(
    ['run', ...args, '--hold', '0.3', '--rate', '200', '--ping', 'off', '--json', '--store', store.directory],
    { environment },
  );
  const run = result.code === 2 ? undefined : (JSON.parse(result.stdout) as RunResult);
  return { ...result, run };
}

describe('--source-address', () => {
  it('spreads the connections over the addresses, so a cap kept per address lets each its own share', async () => {
    const endpoint = await startScopedEndpoint({ scope: { kind: 'source-address' }, cap: { limit: 3, status: 503 } });
    endpoints.push(endpoint);
    const one = await run([endpoint.url, '--stages', '2,4,6,8', '--target-id', 'one-address']);
    expect(one.run).toMatchObject({ ceiling: { value: 2 }, limitingFactor: { kind: 'concurrency-cap' } });
    const two = await run([
      endpoint.url,
      '--stages',
      '2,4,6,8',
      '--source-address',
      '127.0.0.2,127.0.0.3',
      '--target-id',
      'two-addresses',
    ]);
    expect(two.stderr).toContain('leaving from 127.0.0.2, 127.0.0.3 in turn');
    expect(two.run).toMatchObject({
      ceiling: { value: 6 },
      dropOnset: 6,
      limitingFactor: { kind: 'concurrency-cap' },
      settings: { sourceAddresses: ['127.0.0.2', '127.0.0.3'] },
    });
    expect(endpoint.admission.stats().peakOpen).toEqual({ '127.0.0.1': 3, '127.0.0.2': 3, '127.0.0.3': 3 });
  });

  it('refuses an address this machine does not have before anything is sent', async () => {
    const endpoint = await startScopedEndpoint({ scope: { kind: 'source-address' } });
    endpoints.push(endpoint);
    const result = await run([endpoint.url, '--stages', '2', '--source-address', '127.0.0.2,192.0.2.1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: --source-address: 192.0.2.1 is not an address of this machine');
    expect(endpoint.admission.stats().peakOpen).toEqual({});
  });
});

const INIT = '{"type":"connection_init","payload":{"token":"t0ken-for-the-gate"}}';
const SESSION = ['--init-message', INIT, '--ready-when', 'connection_ack', '--ready-timeout', '2'];

describe('--init-message, --ready-when and --ready-timeout', () => {
  it('counts a connection as open at its ack, so a session cap behind the upgrades reads as a cap', async () => {
    const endpoint = await startGatedEndpoint({ refusal: 'error-message', closeCode: 4429, cap: 3 });
    endpoints.push(endpoint);
    const result = await run([endpoint.url, '--stages', '2,4,6', ...SESSION, '--target-id', 'gate']);
    expect(result.stderr).toContain('session: 1 init message at the upgrade, open once a message matches');
    expect(result.run).toMatchObject({
      ceiling: { value: 2 },
      dropOnset: 3,
      limitingFactor: { kind: 'concurrency-cap' },
      failures: { byClass: { 'session-rejected': 1 }, bySessionRejection: { 'close 4429': 1 } },
      settings: { session: { initMessages: 1, readyWhen: 'connection_ack', readyTimeoutSeconds: 2 } },
    });
    expect(result.run?.readyMs?.p50).toBeGreaterThanOrEqual(0);
    expect(result.run?.limitingFactor?.summary).toContain('Session cap at 3');
  });

  it('makes a first session that is refused a configuration error naming the flag, never a ceiling', async () => {
    const endpoint = await startGatedEndpoint({ refusal: 'close', closeCode: 4429, token: 'another-token' });
    endpoints.push(endpoint);
    const result = await run([endpoint.url, '--stages', '2', ...SESSION, '--target-id', 'gate']);
    expect(result.code).toBe(3);
    expect(result.run).toMatchObject({ ceiling: { value: null }, limitingFactor: { kind: 'config-error' } });
    expect(result.run?.limitingFactor?.summary).toContain('--init-message');
  });

  it('refuses --processes for a run that sets up sessions, which runs in one process', async () => {
    const result = await run(['ws://127.0.0.1:9/', '--stages', '2', ...SESSION, '--processes', '2']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: --processes: spreads the plain ramp only');
  });

  it('refuses --ready-timeout without --ready-when before anything is sent', async () => {
    const result = await run(['ws://127.0.0.1:9/', '--stages', '2', '--ready-timeout', '2']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: --ready-timeout: is how long to wait for --ready-when');
  });
});

describe('--session-url-from', () => {
  it("opens the URL the provider hands out per connection, and reads its cap as the REST API's", async () => {
    const endpoint = await startGatedEndpoint({ refusal: 'close', closeCode: 4429 });
    endpoints.push(endpoint);
    const provider = await startUrlProviderEndpoint({
      targetUrl: endpoint.url,
      answer: 'url',
      cap: 3,
      requireHeader: { name: 'x-api-key', value: 'provider-key' },
    });
    endpoints.push(provider);
    const result = await run([
      `${endpoint.url}/s`,
      '--stages',
      '2,4,6',
      ...SESSION,
      '--session-url-from',
      `POST ${provider.url}`,
      '--session-url-path',
      'data.url',
      '--session-url-header',
      'x-api-key: provider-key',
      '--target-id',
      'provider',
    ]);
    expect(result.run).toMatchObject({
      ceiling: { value: 2 },
      limitingFactor: { kind: 'concurrency-cap' },
      failures: { byClass: { 'session-setup': 1 }, bySessionSetup: { 'HTTP 503': 1 } },
      settings: { sessionUrlSource: { path: 'data.url', headerNames: ['x-api-key'] } },
    });
    expect(result.run?.limitingFactor?.summary).toContain('not of the WebSocket gateway');
    expect(provider.stats()).toMatchObject({ issued: 3, refusedByStatus: { 503: 1 } });
    expect(endpoint.gate.stats().acked).toBe(3);
  });
});

describe('--sigv4', () => {
  const keys = { AKIDWSCEILINGTEST: 'known-secret-key-for-the-test-server' };
  const credentials = (secret: string) => ({
    AWS_ACCESS_KEY_ID: 'AKIDWSCEILINGTEST',
    AWS_SECRET_ACCESS_KEY: secret,
    AWS_EC2_METADATA_DISABLED: 'true',
  });

  it('signs each upgrade URL with the default credential chain, and a wrong key is a configuration error', async () => {
    const server = await startSigV4Server({ keys, region: 'eu-west-1', service: 'execute-api' });
    endpoints.push(server);
    const args = [server.url, '--stages', '2', '--sigv4', '--sigv4-region', 'eu-west-1', '--target-id', 'signed'];
    const signed = await run(args, credentials(keys.AKIDWSCEILINGTEST));
    expect(signed.run).toMatchObject({
      ceiling: { value: 2 },
      settings: { sigv4: { region: 'eu-west-1', service: 'execute-api' } },
    });
    expect(server.accepted()).toBe(2);
    expect(server.refusals).toEqual([]);

    const wrong = await run(args, credentials('not-the-key'));
    expect(wrong.code).toBe(3);
    expect(wrong.run).toMatchObject({ ceiling: { value: null }, limitingFactor: { kind: 'config-error' } });
    expect(server.refusals[0]).toBe('signature does not match');
    // The run was signed, so the 403 points at the signature (credentials, region, service, clock), not only the URL.
    const summary = wrong.run?.limitingFactor?.summary ?? '';
    expect(summary).toContain('The target refused the signed upgrade (HTTP 403)');
    expect(summary).toContain('the region eu-west-1 and service execute-api it was signed for');
    expect(summary).toMatch(/credentials.*--sigv4-region, --sigv4-service.*clock/);
    for (const text of [wrong.stdout, wrong.stderr]) expect(text).not.toContain('not-the-key');
  });

  it('asks for --sigv4-region when the host does not name one', async () => {
    const result = await run(['ws://127.0.0.1:9/', '--stages', '2', '--sigv4']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: --sigv4-region: give the AWS region to sign for');
  });
});

describe('--alternate-header', () => {
  it('is refused by run, which sends --header only', async () => {
    const result = await run([
      'ws://127.0.0.1:9/',
      '--stages',
      '2',
      '--alternate-header',
      'x-api-key: alt-credential-77',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: --alternate-header: is a second credential for ws-ceiling diagnose');
    expect(result.stderr).not.toContain('alt-credential-77');
  });
});
