// Connections that must set up a session before they count as open (issue 14), against real servers on 127.0.0.1:
// the simulator's graphql-ws style session gate and its URL provider endpoint. A connection is open only once its
// ready message arrives; an error message, a close or the ready timeout first is `session-rejected` with the close
// code and an excerpt free of the secrets it sent; a URL provider that fails is `session-setup`, with no upgrade.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  openConnectionGroup,
  type ConnectionGroupOptions,
  type ProbeConnection,
} from '../../functions/connection/probe-connection.js';
import { runConnections, type ConnectionSettings } from '../../functions/connection/run-connections.js';
import { parseReadyWhen } from '../../functions/engine/session-settings.js';
import type { ConnectionRecord } from '../../functions/engine/types.js';
import type { SessionGateOptions } from '../../functions/simulator/session-gate.js';
import { startUrlProviderEndpoint } from '../../functions/simulator/url-provider-endpoint.js';
import { startGatedEndpoint } from '../support/real-endpoints.js';

const TOKEN = 'planted-s3cret-token-4f9a1c';
const INIT = `{"type":"connection_init","payload":{"token":"${TOKEN}"}}`;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function gate(options: Partial<SessionGateOptions>) {
  const endpoint = await startGatedEndpoint({ refusal: 'error-message', closeCode: 4429, ...options });
  cleanups.push(() => endpoint.stop());
  return endpoint;
}

const now = () => performance.timeOrigin + performance.now();

/** A group making its connections from `settings` that waits up to `readyTimeoutMs` for `connection_ack`. */
function group(settings: ConnectionSettings, readyTimeoutMs = 2000, more: Partial<ConnectionGroupOptions> = {}) {
  const settled: ConnectionRecord[] = [];
  const connections: ProbeConnection[] = [];
  const made = runConnections(settings, { env: {} });
  const connectionGroup = openConnectionGroup({
    recipe: made.recipeFor(1),
    subprotocols: [],
    handshakeTimeoutMs: 2000,
    heartbeat: { kind: 'off' },
    session: { readyWhen: parseReadyWhen('connection_ack', '--ready-when'), readyTimeoutMs },
    shard: 0,
    now,
    onSettled: (record) => settled.push(record),
    onClosed: () => undefined,
    ...more,
  });
  cleanups.push(async () => {
    for (const connection of connections) connection.terminateByProbe();
    await connectionGroup.allEnded();
    made.close();
  });
  const open = (id = connections.length) => {
    const connection = connectionGroup.open(id, 0);
    connections.push(connection);
    return connection;
  };
  return { group: connectionGroup, open, settled };
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

const session = { initMessages: [INIT], readyTimeoutSeconds: 2 };

describe('a connection with a session to set up', () => {
  it(
    'counts as open at the ready message with its time to ready, and a session over the cap is rejected with the ' +
      'close code and an excerpt that leaves out the token it sent',
    async () => {
      const endpoint = await gate({ cap: 1, token: TOKEN, echo: true });
      const probe = group({ url: endpoint.url, headers: {}, session });
      const first = probe.open();
      await until(() => probe.settled.length === 1);
      expect(first.record).toMatchObject({ outcome: 'opened' });
      expect(first.record.readyMs).toBeGreaterThanOrEqual(0);
      expect(first.record.handshakeMs).toBeGreaterThanOrEqual(0);

      const second = probe.open();
      await until(() => second.record.session?.closeCode !== undefined);
      expect(second.record).toMatchObject({
        outcome: 'session-rejected',
        session: { reason: 'error-message', closeCode: 4429 },
      });
      expect(second.record.session?.excerpt).toContain('Too many sessions');
      expect(JSON.stringify(second.record)).not.toContain(TOKEN);
      expect(endpoint.gate.stats()).toMatchObject({ acked: 1, refused: { cap: 1 } });
    },
  );

  it('is rejected as a ready timeout by a server that never acks, and the probe closes it', async () => {
    const endpoint = await gate({ silent: true });
    const probe = group({ url: endpoint.url, headers: {}, session }, 300);
    const connection = probe.open();
    await until(() => probe.settled.length === 1);
    expect(connection.record).toMatchObject({ outcome: 'session-rejected', session: { reason: 'ready-timeout' } });
    // The silent server would keep it open: only the probe's close ends it.
    const ended = await Promise.race([probe.group.allEnded().then(() => true), sleep(2000).then(() => false)]);
    expect(ended).toBe(true);
  });

  it('is session-setup, with no upgrade, when the URL provider refuses; the probe cancels a call', async () => {
    const endpoint = await gate({});
    const provider = await startUrlProviderEndpoint({
      targetUrl: endpoint.url,
      answer: 'url',
      requireHeader: { name: 'x-api-key', value: 'right' },
    });
    cleanups.push(() => provider.stop());
    const sessionUrlSource = {
      from: `POST ${provider.url}`,
      path: 'data.url',
      headers: { 'x-api-key': 'wrong' },
      timeoutSeconds: 2,
    };
    const probe = group({ url: endpoint.url, headers: {}, session, sessionUrlSource });
    const refused = probe.open();
    await until(() => probe.settled.length === 1);
    expect(refused.record).toMatchObject({ outcome: 'session-setup', setup: { reason: 'status', status: 401 } });
    expect(refused.record.setupMs).toBeGreaterThanOrEqual(0);
    expect(endpoint.gate.stats().acked).toBe(0);

    const slow = await startUrlProviderEndpoint({ targetUrl: endpoint.url, answer: 'url', delayMs: 1000 });
    cleanups.push(() => slow.stop());
    const later = group({
      url: endpoint.url,
      headers: {},
      session,
      sessionUrlSource: { ...sessionUrlSource, from: `POST ${slow.url}` },
    });
    const cancelled = later.open();
    await sleep(50);
    cancelled.closeByProbe();
    await later.group.allEnded();
    expect(cancelled.record.outcome).toBe('cancelled');
    expect(endpoint.gate.stats().acked).toBe(0);
  });
});
