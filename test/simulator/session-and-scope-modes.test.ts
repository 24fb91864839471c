// The simulator's modes for real endpoints (issue 14), as --simulate specs: a cap kept per client address or per
// header value (`per=`), and a graphql-ws style session gate behind the upgrade (`session-cap=`), checked with plain
// ws clients on 127.0.0.1 and 127.0.0.2.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseSimulatorSpec, describeSimulator } from '../../functions/simulator/simulator-spec.js';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';

const running: RunningSimulator[] = [];
const clients: WebSocket[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.terminate();
  await Promise.all(running.splice(0).map((simulator) => simulator.stop()));
});

async function simulate(spec: string): Promise<RunningSimulator> {
  const simulator = await startTargetSimulator(parseSimulatorSpec(spec));
  running.push(simulator);
  return simulator;
}

/** Opens a client; resolves with `open`, or the refusing status. */
function upgrade(url: string, options: WebSocket.ClientOptions = {}): Promise<WebSocket | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, options);
    clients.push(ws);
    ws.on('error', () => undefined);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
  });
}

/** Sends connection_init and resolves with the first message and, when the server closes, its close code. */
function initSession(ws: WebSocket): Promise<{ message: string; closeCode?: number }> {
  return new Promise((resolve) => {
    let message = '';
    ws.once('message', (data: Buffer) => {
      message = data.toString();
      if (message.includes('connection_ack')) resolve({ message });
    });
    ws.once('close', (closeCode: number) => resolve({ message, closeCode }));
    ws.send('{"type":"connection_init"}');
  });
}

describe('--simulate per= and session-cap=', () => {
  it('reads the keys, describes them, and refuses them where they mean nothing', () => {
    expect(describeSimulator(parseSimulatorSpec('cap=5,per=header:x-api-key,session-cap=3'))).toBe(
      'cap 5 (503), per x-api-key header value, sessions on connection_init, acked up to 3 (then connection_error ' +
        'and close 4429)',
    );
    expect(() => parseSimulatorSpec('per=source-address')).toThrow('--simulate: per needs cap or rate');
    expect(() => parseSimulatorSpec('cap=5,cap-response=queue,per=source-address')).toThrow(
      'per needs a cap answered with an HTTP status, not cap-response=queue',
    );
    expect(() => parseSimulatorSpec('cap=5,queue-wait=1,per=source-address')).toThrow(
      'per keeps cap and rate per scope, not queue-wait',
    );
    expect(() => parseSimulatorSpec('per=header:')).toThrow('per must be source-address or header:NAME');
    expect(() => parseSimulatorSpec('session-close-code=4000')).toThrow('session-close-code needs session-cap');
  });

  it('keeps a cap per client address', async () => {
    const { url } = await simulate('cap=1,per=source-address');
    expect(await upgrade(url, { localAddress: '127.0.0.2' })).toBeInstanceOf(WebSocket);
    expect(await upgrade(url, { localAddress: '127.0.0.2' })).toBe(503);
    expect(await upgrade(url, { localAddress: '127.0.0.3' })).toBeInstanceOf(WebSocket);
  });

  it('acks sessions up to its cap and refuses the next with connection_error and 4429', async () => {
    const { url } = await simulate('session-cap=1');
    const first = await upgrade(url);
    const second = await upgrade(url);
    if (typeof first === 'number' || typeof second === 'number') throw new Error('not upgraded');
    expect(await initSession(first)).toEqual({ message: '{"type":"connection_ack"}' });
    const refused = await initSession(second);
    expect(refused.closeCode).toBe(4429);
    expect(refused.message).toContain('connection_error');
  });
});
