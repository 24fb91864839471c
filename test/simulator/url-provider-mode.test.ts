// The simulator's URL-provider mode (issue 14, item 5), as a --simulate spec: `url-provider=url|token` starts a REST
// endpoint beside the WebSocket server that hands out one session URL or token per call, and the server then refuses
// every upgrade without one of its tokens. Checked with plain HTTP and ws clients, and with `ws-ceiling run
// --simulate … --session-url-from` as a user runs it.
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunResult } from '../../functions/engine/types.js';
import { describeSimulator, parseSimulatorSpec } from '../../functions/simulator/simulator-spec.js';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';
import { runCli, temporaryStore } from '../support/cli.js';

const running: RunningSimulator[] = [];
const clients: WebSocket[] = [];
const stores: Array<{ remove: () => Promise<void> }> = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.terminate();
  await Promise.all(running.splice(0).map((simulator) => simulator.stop()));
  await Promise.all(stores.splice(0).map((store) => store.remove()));
});

async function simulate(spec: string): Promise<RunningSimulator> {
  const simulator = await startTargetSimulator(parseSimulatorSpec(spec));
  running.push(simulator);
  return simulator;
}

/** Opens a client; resolves with `open`, or the refusing status. */
function upgrade(url: string): Promise<WebSocket | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    clients.push(ws);
    ws.on('error', () => undefined);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
  });
}

/** A port free on 127.0.0.1 a moment ago, for a spec that must name the provider's port before it starts. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('--simulate url-provider=', () => {
  it('reads the keys, describes them, and refuses them without url-provider', () => {
    expect(describeSimulator(parseSimulatorSpec('url-provider=url,url-provider-rate=2,url-provider-cap=6'))).toBe(
      'a URL provider handing out a session URL per call, 2 calls/s (429, retry after 1 s), 6 sessions in all ' +
        '(then 503); upgrades without one of its tokens refused with 401',
    );
    expect(parseSimulatorSpec('url-provider=token,url-provider-port=8081').urlProvider).toEqual({
      answer: 'token',
      port: 8081,
    });
    expect(() => parseSimulatorSpec('url-provider-cap=3')).toThrow('--simulate: url-provider-cap needs url-provider');
    expect(() => parseSimulatorSpec('url-provider=yes')).toThrow('url-provider must be url or token');
  });

  it('hands out a URL per call, and refuses upgrades without one of its tokens', async () => {
    const simulator = await simulate('url-provider=url,url-provider-cap=1');
    expect(simulator.urlProviderUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/sessions$/);
    expect(await upgrade(`${simulator.url}/s/1`)).toBe(401);
    const answer = await fetch(simulator.urlProviderUrl ?? '', { method: 'POST' });
    expect(answer.status).toBe(201);
    const { data } = (await answer.json()) as { data: { url: string } };
    expect(data.url.startsWith(`${simulator.url}/s/1?token=`)).toBe(true);
    expect(await upgrade(data.url)).toBeInstanceOf(WebSocket);
    expect(await upgrade(`${simulator.url}/s/1?token=not-issued`)).toBe(401);
    expect((await fetch(simulator.urlProviderUrl ?? '', { method: 'POST' })).status).toBe(503);
  });

  it('lets run --simulate open each connection at the URL its provider hands out, and reads its cap', async () => {
    const port = await freePort();
    const store = await temporaryStore();
    stores.push(store);
    const result = await runCli([
      'run',
      ...['--simulate', `url-provider=url,url-provider-port=${port},url-provider-cap=6`],
      ...['--session-url-from', `POST http://127.0.0.1:${port}/sessions`, '--session-url-path', 'data.url'],
      ...['--stages', '4,8', '--hold', '0.3', '--rate', '50', '--ping', 'off', '--json', '--store', store.directory],
    ]);
    expect(result.stderr).toContain(`its URL provider: POST http://127.0.0.1:${port}/sessions`);
    const run = JSON.parse(result.stdout) as RunResult;
    expect(run).toMatchObject({
      ceiling: { value: 4 },
      limitingFactor: { kind: 'concurrency-cap' },
      failures: { byClass: { 'session-setup': 2 }, bySessionSetup: { 'HTTP 503': 2 } },
    });
    expect(run.limitingFactor?.summary).toContain('not of the WebSocket gateway');
  });
});
