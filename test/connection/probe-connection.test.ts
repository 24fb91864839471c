import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import {
  CLOSE_HANDSHAKE_TIMEOUT_MS,
  openConnectionGroup,
  type ConnectionGroupOptions,
  type ProbeConnection,
} from '../../functions/connection/probe-connection.js';
import { literalRecipe } from '../../functions/connection/connection-recipe.js';
import { classifyRecord } from '../../functions/engine/classify.js';
import type { ConnectionRecord, HeartbeatSettings } from '../../functions/engine/types.js';
import { startTargetSimulator, type SimulatorOptions } from '../../functions/simulator/target-simulator.js';
import { closedPort } from '../support/ports.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A plain ws server on 127.0.0.1 port 0; every client is terminated and the server closed after the test. */
async function wsServer(options: { autoPong?: boolean } = {}): Promise<{ url: string; clients: ServerSocket[] }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  const clients: ServerSocket[] = [];
  server.on('connection', (socket) => clients.push(socket));
  cleanups.push(() => {
    for (const client of server.clients) client.terminate();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  await new Promise((resolve) => server.once('listening', resolve));
  return { url: `ws://127.0.0.1:${(server.address() as { port: number }).port}`, clients };
}

/** A TCP server on 127.0.0.1 port 0 that hands each accepted socket to `onSocket`; stopped after the test. */
async function tcpServer(onSocket: (socket: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** The bundled simulator with `options`, stopped after the test. */
async function simulator(options: SimulatorOptions): Promise<string> {
  const running = await startTargetSimulator(options);
  cleanups.push(() => running.stop());
  return running.url;
}

const now = () => performance.timeOrigin + performance.now();

/** A group that collects what it reports; every connection still open is terminated after the test. */
function group(url: string, overrides: Partial<ConnectionGroupOptions> = {}) {
  const settled: ConnectionRecord[] = [];
  const closed: ConnectionRecord[] = [];
  const connections: ProbeConnection[] = [];
  const connectionGroup = openConnectionGroup({
    recipe: literalRecipe(url, {}),
    subprotocols: [],
    handshakeTimeoutMs: 2000,
    heartbeat: { kind: 'off' },
    shard: 3,
    now,
    onSettled: (record) => settled.push(record),
    onClosed: (record) => closed.push(record),
    ...overrides,
  });
  cleanups.push(async () => {
    for (const connection of connections) connection.terminateByProbe();
    await connectionGroup.allEnded();
  });
  const open = (id = connections.length) => {
    const connection = connectionGroup.open(id, 0);
    connections.push(connection);
    return connection;
  };
  return { group: connectionGroup, open, settled, closed };
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

const pings = (intervalSeconds: number, pongTimeoutSeconds: number): HeartbeatSettings => ({
  kind: 'ping',
  intervalSeconds,
  pongTimeoutSeconds,
});

describe('openConnectionGroup', () => {
  it(
    'records the TCP connect, the handshake and a close by the probe with 1000, and tells when every connection ' +
      'has ended',
    async () => {
      const { url, clients } = await wsServer();
      const probe = group(url);
      const connection = probe.open(7);
      await until(() => probe.settled.length === 1);
      const { record } = connection;
      expect(record).toMatchObject({ shard: 3, id: 7, stage: 0, outcome: 'opened' });
      expect(record.tcpConnectedAt).toBeGreaterThanOrEqual(record.attemptedAt);
      expect(record.settledAt).toBeGreaterThanOrEqual(record.tcpConnectedAt!);
      expect(record.handshakeMs).toBe(record.settledAt - record.attemptedAt);

      const serverSawClose = new Promise<number>((resolve) => clients[0]!.once('close', resolve));
      const closingFrom = Date.now();
      connection.closeByProbe();
      await probe.group.allEnded();
      expect(await serverSawClose).toBe(1000);
      expect(probe.closed).toEqual([record]);
      expect(record.close).toMatchObject({ code: 1000, frameReceived: true, closedBy: 'probe' });
      // When the probe started closing, for the open count: the server may free the place before the answer is read.
      expect(record.close?.probeClosingAt).toBeGreaterThanOrEqual(closingFrom);
      expect(record.close?.probeClosingAt).toBeLessThanOrEqual(record.close?.at ?? 0);
    },
  );

  it('records a connect error and counts the connection as ended', async () => {
    const probe = group(`ws://127.0.0.1:${await closedPort()}`);
    const connection = probe.open();
    await probe.group.allEnded();
    expect(connection.record).toMatchObject({ outcome: 'connect-error', errorCode: 'ECONNREFUSED' });
    expect(connection.record.tcpConnectedAt).toBeUndefined();
    expect(probe.closed).toEqual([]);
  });

  it('times each handshake out at its own deadline, not before, when TCP connects but HTTP never answers', async () => {
    const port = await tcpServer(() => undefined);
    const probe = group(`ws://127.0.0.1:${port}`, { handshakeTimeoutMs: 300 });
    const connections = [probe.open()];
    await sleep(100);
    connections.push(probe.open());
    await probe.group.allEnded();
    for (const { record } of connections) {
      expect(record.outcome).toBe('handshake-timeout');
      expect(record.tcpConnectedAt).toBeDefined();
      expect(record.settledAt - record.attemptedAt).toBeGreaterThanOrEqual(300);
      expect(record.settledAt - record.attemptedAt).toBeLessThan(2000);
    }
    expect(connections[1]!.record.settledAt).toBeGreaterThan(connections[0]!.record.settledAt);
  });

  it('opens wss URLs over TLS, naming the host for SNI', async () => {
    const firstBytes: Buffer[] = [];
    const port = await tcpServer((socket) =>
      socket.once('data', (data: Buffer) => (firstBytes.push(data), socket.destroy())),
    );
    const probe = group(`wss://localhost:${port}`);
    const connection = probe.open();
    await probe.group.allEnded();
    // A TLS handshake record (0x16) carrying a ClientHello (type 1) whose server_name extension holds the host.
    expect(firstBytes[0]?.[0]).toBe(0x16);
    expect(firstBytes[0]?.[5]).toBe(0x01);
    expect(firstBytes[0]?.includes('localhost')).toBe(true);
    expect(connection.record.outcome).toBe('connect-error');
  });

  it('leaves from each source address in turn, by connection id', async () => {
    const remotes: string[] = [];
    const port = await tcpServer((socket) => (remotes.push(socket.remoteAddress ?? ''), socket.destroy()));
    const recipe = literalRecipe(`ws://127.0.0.1:${port}`, {}, ['127.0.0.2', '127.0.0.3']);
    const probe = group('', { recipe, shard: 0 });
    for (const id of [0, 1, 2]) {
      probe.open(id);
      await until(() => remotes.length === id + 1);
    }
    await probe.group.allEnded();
    expect(remotes).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.2']);
  });

  it(
    'keeps pinging and drops the connection as a pong timeout one pong timeout after its oldest unanswered ' +
      'ping, with a timeout longer than the interval',
    async () => {
      const { url, clients } = await wsServer({ autoPong: false });
      const probe = group(url, { heartbeat: pings(0.2, 0.5) });
      let pingsReceived = 0;
      const connection = probe.open();
      await until(() => clients.length === 1);
      clients[0]!.on('ping', () => (pingsReceived += 1));
      await until(() => probe.closed.length === 1);
      const close = connection.record.close!;
      expect(close.closedBy).toBe('pong-timeout');
      expect(close.frameReceived).toBe(false);
      // The first ping leaves 0.2 s after opening; its pong is overdue 0.5 s later.
      expect(close.ageMs).toBeGreaterThanOrEqual(700);
      expect(close.ageMs).toBeLessThan(3000);
      expect(pingsReceived).toBeGreaterThanOrEqual(2);
      expect(close.sinceOutboundMs).toBeLessThan(close.ageMs - 200);
    },
  );

  it('keeps a connection whose pongs come late but within the pong timeout', async () => {
    const { url, clients } = await wsServer({ autoPong: false });
    const probe = group(url, { heartbeat: pings(0.2, 0.8) });
    const connection = probe.open();
    await until(() => clients.length === 1);
    clients[0]!.on('ping', (data) => setTimeout(() => clients[0]!.pong(data), 300));
    await sleep(1500);
    expect(connection.record.close).toBeUndefined();
    connection.closeByProbe();
    await probe.group.allEnded();
    expect(connection.record.close?.closedBy).toBe('probe');
  });

  it('takes a pong for the latest of several pings as the answer to the earlier ones too', async () => {
    // The server answers only every fourth ping, echoing it: no ping waits more than three intervals (0.3 s).
    const { url, clients } = await wsServer({ autoPong: false });
    const probe = group(url, { heartbeat: pings(0.1, 0.6) });
    const connection = probe.open();
    await until(() => clients.length === 1);
    let received = 0;
    clients[0]!.on('ping', (data) => {
      received += 1;
      if (received % 4 === 0) clients[0]!.pong(data);
    });
    await sleep(1500);
    expect(received).toBeGreaterThanOrEqual(8);
    expect(connection.record.close).toBeUndefined();
  });

  it(
    'never records a connection the probe is closing as a pong timeout while the server does not answer the ' + 'close',
    async () => {
      const { url, clients } = await wsServer({ autoPong: false });
      const probe = group(url, { heartbeat: pings(0.1, 0.3) });
      const connection = probe.open();
      await until(() => clients.length === 1 && probe.settled.length === 1);
      // Let a ping go unanswered, then stop the server reading so the close frame is never answered.
      await sleep(150);
      clients[0]!.pause();
      connection.closeByProbe();
      await sleep(700);
      expect(connection.record.close).toBeUndefined();
      connection.terminateByProbe();
      await probe.group.allEnded();
      expect(connection.record.close).toMatchObject({ closedBy: 'probe', code: 1006, frameReceived: false });
    },
  );

  it("keeps a close the server started as the server's when the probe asks to close before it completes", async () => {
    const { url, clients } = await wsServer();
    const probe = group(url);
    const connection = probe.open();
    await until(() => clients.length === 1 && probe.settled.length === 1);
    // The server sends its close frame, then stops reading: the closing handshake never completes.
    clients[0]!.close(1013, 'try again later');
    clients[0]!.pause();
    await sleep(500);
    connection.closeByProbe();
    connection.terminateByProbe();
    await probe.group.allEnded();
    expect(connection.record.close).toMatchObject({
      code: 1013,
      reason: 'try again later',
      frameReceived: true,
      closedBy: 'server',
    });
  });

  it(
    "records the server's close when its close frame arrives, pings no more, and lets go of a server that keeps " +
      'TCP open within the close timeout',
    async () => {
      // The server sends 1001 0.3 s after open, then never reads the probe's answer nor ends TCP.
      const url = await simulator({ closeAfter: { seconds: 0.3, code: 1001, reason: 'bye', keepTcpOpen: true } });
      const probe = group(url, { heartbeat: pings(0.1, 0.2) });
      const connection = probe.open();
      await until(() => probe.closed.length === 1);
      const recordedAt = now();
      const close = connection.record.close!;
      expect(close).toMatchObject({ code: 1001, reason: 'bye', frameReceived: true, closedBy: 'server' });
      expect(close.ageMs).toBeGreaterThanOrEqual(290);
      expect(close.ageMs).toBeLessThan(1000);
      expect(classifyRecord(connection.record, { anyOpenedBefore: true })).toBe('server-close');
      await probe.group.allEnded();
      // ws's own close timeout is 30 s; the probe lets go after its own.
      expect(now() - recordedAt).toBeLessThan(CLOSE_HANDSHAKE_TIMEOUT_MS + 1000);
      expect(connection.record.close).toEqual(close);
    },
  );

  it(
    "ends a connection as a protocol error, with ws's message and the code it closed with, when the server sends " +
      'a frame ws rejects',
    async () => {
      const url = await simulator({ badFrameAfterSeconds: 0.2 });
      const probe = group(url, { heartbeat: pings(0.1, 0.2) });
      const connection = probe.open();
      await until(() => probe.closed.length === 1);
      const close = connection.record.close!;
      expect(close).toMatchObject({
        code: 1002,
        reason: '',
        frameReceived: false,
        closedBy: 'server',
        protocolError: 'Invalid WebSocket frame: invalid status code 1004',
      });
      expect(close.ageMs).toBeLessThan(1000);
      expect(classifyRecord(connection.record, { anyOpenedBefore: true })).toBe('config-error');
    },
  );
});
