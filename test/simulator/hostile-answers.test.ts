// Tests of the simulator's hostile modes against the real server on 127.0.0.1 with real ws clients and raw
// sockets: an upgrade answered with a web page or with bytes that are not HTTP, a close frame whose handshake
// never completes, and a frame a client must reject; and their spec keys.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { describeSimulator, parseSimulatorSpec } from '../../functions/simulator/simulator-spec.js';
import {
  startTargetSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../functions/simulator/target-simulator.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(options: SimulatorOptions): Promise<RunningSimulator> {
  const simulator = await startTargetSimulator(options);
  cleanups.push(() => simulator.stop());
  return simulator;
}

/** Sends an upgrade request over a raw socket and returns everything the server wrote until it ended. */
function rawUpgrade(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () =>
      socket.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      ),
    );
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

/** A ws client that reports its close (code, and ws's error if it rejected a frame) and when it happened. */
function client(url: string) {
  const ws = new WebSocket(url);
  cleanups.push(() => ws.terminate());
  const opened = new Promise<number>((resolve) => ws.once('open', () => resolve(performance.now())));
  let error: string | undefined;
  ws.on('error', (failure) => (error = failure.message));
  const closed = new Promise<{ code: number; at: number; error: string | undefined }>((resolve) =>
    ws.once('close', (code: number) => resolve({ code, at: performance.now(), error })),
  );
  return { ws, opened, closed };
}

describe('the hostile simulator modes', () => {
  it('answers every upgrade with a web page (200) or with bytes that are not HTTP', async () => {
    const page = await start({ answer: 'web-page' });
    const pageAnswer = await rawUpgrade(page.port);
    expect(pageAnswer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(pageAnswer).toContain('<title>Welcome</title>');
    const notHttp = await start({ answer: 'not-http' });
    expect(await rawUpgrade(notHttp.port)).toBe('SSH-2.0-OpenSSH_9.6\r\n');
    expect(notHttp.stats().accepted).toBe(0);
  });

  it('sends its close frame and keeps TCP open, never reading the close the client answers with', async () => {
    const simulator = await start({ closeAfter: { seconds: 0.2, code: 1001, keepTcpOpen: true } });
    const { ws, opened, closed } = client(simulator.url);
    const openedAt = await opened;
    let closing = 0;
    const poll = setInterval(() => (closing = ws.readyState === WebSocket.CLOSING ? closing || performance.now() : 0));
    cleanups.push(() => clearInterval(poll));
    await new Promise((resolve) => setTimeout(resolve, 700));
    // The client got the frame and answered it, and is still waiting for the server to end TCP.
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    expect(closing - openedAt).toBeGreaterThanOrEqual(150);
    ws.terminate();
    expect((await closed).code).toBe(1001);
    expect(simulator.stats()).toMatchObject({ closedAfterLifetime: 1, clientCloseCodes: {} });
  });

  it('sends a close frame with the reserved code 1004, which the client must reject', async () => {
    const simulator = await start({ badFrameAfterSeconds: 0.2 });
    const { ws, closed } = client(simulator.url);
    const rejected = new Promise<string>((resolve) => ws.once('error', (error) => resolve(error.message)));
    expect(await rejected).toBe('Invalid WebSocket frame: invalid status code 1004');
    ws.terminate();
    expect((await closed).code).toBe(1006);
    expect(simulator.stats().clientCloseCodes).toEqual({});
  });

  it('reads answer, close-tcp and bad-frame-after from a spec, and describes them', () => {
    expect(parseSimulatorSpec('answer=web-page')).toEqual({ answer: 'web-page' });
    expect(parseSimulatorSpec('answer=not-http')).toEqual({ answer: 'not-http' });
    expect(parseSimulatorSpec('close-after=1,close-code=4001,close-tcp=keep')).toEqual({
      closeAfter: { seconds: 1, code: 4001, keepTcpOpen: true },
    });
    expect(parseSimulatorSpec('bad-frame-after=0.5')).toEqual({ badFrameAfterSeconds: 0.5 });
    expect(() => parseSimulatorSpec('answer=teapot')).toThrow(
      '--simulate: answer must be web-page or not-http, got "teapot"',
    );
    expect(() => parseSimulatorSpec('close-tcp=keep')).toThrow('--simulate: close-tcp needs close-after');
    expect(describeSimulator(parseSimulatorSpec('answer=web-page'))).toBe(
      'answers every upgrade with a web page (200)',
    );
    expect(describeSimulator(parseSimulatorSpec('close-after=2,close-tcp=keep'))).toBe(
      'closes after 2 s with 1001, keeping TCP open',
    );
    expect(describeSimulator(parseSimulatorSpec('bad-frame-after=1'))).toBe(
      'sends an invalid frame (close code 1004) after 1 s',
    );
  });
});
