// Tests of the target simulator against the real server on 127.0.0.1 with
// real ws clients: each limit (cap with status, reset or queue; rate limit;
// idle timeout; lifetime; degradation under load; reject-all), the client-close bookkeeping and stop().
import { get } from 'node:http';
import { describe, it, expect, afterEach } from 'vitest';
import { WebSocket, type ClientOptions } from 'ws';
import {
  startTargetSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../functions/simulator/target-simulator.js';

type Outcome =
  | { kind: 'open'; ws: WebSocket; openedAt: number }
  | { kind: 'status'; status: number; retryAfter: string | undefined }
  | { kind: 'error'; code: string | undefined; message: string };

interface Closed {
  code: number;
  reason: string;
  at: number;
}

const clients: WebSocket[] = [];
const simulators: RunningSimulator[] = [];

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  await Promise.all(simulators.splice(0).map((simulator) => simulator.stop()));
});

async function start(options: SimulatorOptions): Promise<RunningSimulator> {
  const simulator = await startTargetSimulator(options);
  simulators.push(simulator);
  return simulator;
}

/** Opens one client and reports how the handshake ended. */
function attempt(url: string, options?: ClientOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, options);
    clients.push(ws);
    ws.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ kind: 'error', code: error.code, message: error.message }),
    );
    ws.on('unexpected-response', (req, res) => {
      resolve({ kind: 'status', status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] });
      req.destroy();
    });
    ws.on('open', () => resolve({ kind: 'open', ws, openedAt: performance.now() }));
  });
}

async function openClient(url: string): Promise<{ ws: WebSocket; openedAt: number }> {
  const outcome = await attempt(url);
  if (outcome.kind !== 'open') throw new Error(`expected open, got ${JSON.stringify(outcome)}`);
  return outcome;
}

function closed(ws: WebSocket): Promise<Closed> {
  return new Promise((resolve) => {
    ws.once('close', (code: number, reason: Buffer) =>
      resolve({ code, reason: reason.toString(), at: performance.now() }),
    );
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const kinds = (outcomes: Outcome[]): Record<string, number> =>
  outcomes.reduce<Record<string, number>>((counts, outcome) => {
    const key = outcome.kind === 'status' ? `status ${outcome.status}` : outcome.kind;
    counts[key] = (counts[key] ?? 0) + 1;
    return counts;
  }, {});

describe('target simulator', () => {
  it('binds to 127.0.0.1 on a free port by default', async () => {
    const simulator = await start({});
    expect(simulator.port).toBeGreaterThan(0);
    expect(simulator.url).toBe(`ws://127.0.0.1:${simulator.port}`);
    await openClient(simulator.url);
    expect(simulator.stats()).toMatchObject({ open: 1, peakOpen: 1, accepted: 1 });
  });

  it('refuses the upgrade beyond the cap with 503 and Retry-After', async () => {
    const simulator = await start({
      cap: { limit: 5, response: { kind: 'status', status: 503, retryAfterSeconds: 7 } },
    });
    for (let i = 0; i < 5; i += 1) await openClient(simulator.url);
    expect(await attempt(simulator.url)).toEqual({ kind: 'status', status: 503, retryAfter: '7' });
    expect(simulator.stats()).toMatchObject({ open: 5, peakOpen: 5, accepted: 5, refusedByStatus: { '503': 1 } });
  });

  it('holds the cap exactly under 151 concurrent upgrades, and frees a slot when one closes', async () => {
    const simulator = await start({ cap: { limit: 150, response: { kind: 'status', status: 503 } } });
    const outcomes = await Promise.all(Array.from({ length: 151 }, () => attempt(simulator.url)));
    expect(kinds(outcomes)).toEqual({ open: 150, 'status 503': 1 });
    expect(outcomes.find((outcome) => outcome.kind === 'status')).toEqual({
      kind: 'status',
      status: 503,
      retryAfter: undefined,
    });
    expect(simulator.stats()).toMatchObject({ open: 150, peakOpen: 150, accepted: 150, refusedByStatus: { '503': 1 } });

    const first = outcomes.find((outcome) => outcome.kind === 'open');
    if (first?.kind !== 'open') throw new Error('no open client');
    first.ws.close(1000);
    await waitFor(() => simulator.stats().open === 149);
    expect((await attempt(simulator.url)).kind).toBe('open');
    expect(simulator.stats()).toMatchObject({ open: 150, peakOpen: 150, accepted: 151 });
  });

  it('answers the upgrade beyond the cap with a TCP reset', async () => {
    const simulator = await start({ cap: { limit: 2, response: { kind: 'reset' } } });
    await openClient(simulator.url);
    await openClient(simulator.url);
    const outcome = await attempt(simulator.url);
    expect(outcome).toMatchObject({ kind: 'error', code: 'ECONNRESET' });
    expect(simulator.stats()).toMatchObject({ accepted: 2, reset: 1, refusedByStatus: {} });
  });

  it('leaves the upgrade beyond the cap unanswered (queue), and stop() still returns promptly', async () => {
    const simulator = await start({ cap: { limit: 5, response: { kind: 'queue' } } });
    for (let i = 0; i < 5; i += 1) await openClient(simulator.url);
    const startedAt = performance.now();
    const outcome = await attempt(simulator.url, { handshakeTimeout: 500 });
    expect(outcome).toEqual({ kind: 'error', code: undefined, message: 'Opening handshake has timed out' });
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(450);
    expect(simulator.stats()).toMatchObject({ accepted: 5, queued: 1, refusedByStatus: {}, reset: 0 });

    const queuedWhileStopping = attempt(simulator.url, { handshakeTimeout: 5_000 });
    await waitFor(() => simulator.stats().queued === 2);
    const stopStartedAt = performance.now();
    await simulator.stop();
    expect(performance.now() - stopStartedAt).toBeLessThan(1_000);
    expect(await queuedWhileStopping).toMatchObject({ kind: 'error', message: 'socket hang up' });
  });

  it('rate-limits handshakes: of 10 quick tries at 5/s with burst 5, exactly 5 get 429 with Retry-After', async () => {
    const simulator = await start({ rateLimit: { perSecond: 5, burst: 5, retryAfterSeconds: 2 } });
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => attempt(simulator.url)));
    expect(kinds(outcomes)).toEqual({ open: 5, 'status 429': 5 });
    for (const outcome of outcomes.filter((o) => o.kind === 'status')) {
      expect(outcome).toEqual({ kind: 'status', status: 429, retryAfter: '2' });
    }
    expect(simulator.stats()).toMatchObject({ accepted: 5, refusedByStatus: { '429': 5 } });
  });

  it('refills the rate-limit bucket over time', async () => {
    const simulator = await start({ rateLimit: { perSecond: 10, burst: 1, retryAfterSeconds: 1 } });
    expect((await attempt(simulator.url)).kind).toBe('open');
    expect(await attempt(simulator.url)).toMatchObject({ kind: 'status', status: 429, retryAfter: '1' });
    await sleep(150);
    expect((await attempt(simulator.url)).kind).toBe('open');
  });

  it('destroys an idle connection without a close frame after the idle timeout', async () => {
    const simulator = await start({ idleTimeoutSeconds: 0.5 });
    const { ws, openedAt } = await openClient(simulator.url);
    const { code, at } = await closed(ws);
    expect(code).toBe(1006);
    const elapsedSeconds = (at - openedAt) / 1000;
    expect(elapsedSeconds).toBeGreaterThanOrEqual(0.4);
    expect(elapsedSeconds).toBeLessThanOrEqual(1.0);
    await waitFor(() => simulator.stats().open === 0);
    expect(simulator.stats()).toMatchObject({ idleTimeouts: 1, abnormalClientCloses: 0, clientCloseCodes: {} });
  });

  it('keeps a connection that pings every 0.2 s open past the idle timeout', async () => {
    const simulator = await start({ idleTimeoutSeconds: 0.5 });
    const { ws } = await openClient(simulator.url);
    const pinger = setInterval(() => ws.ping(), 200);
    try {
      await sleep(1_200);
      expect(ws.readyState).toBe(WebSocket.OPEN);
      expect(simulator.stats()).toMatchObject({ open: 1, idleTimeouts: 0 });
    } finally {
      clearInterval(pinger);
    }
  });

  it('keeps a connection that sends messages open past the idle timeout', async () => {
    const simulator = await start({ idleTimeoutSeconds: 0.5 });
    const { ws } = await openClient(simulator.url);
    const sender = setInterval(() => ws.send('hi'), 200);
    try {
      await sleep(1_200);
      expect(ws.readyState).toBe(WebSocket.OPEN);
    } finally {
      clearInterval(sender);
    }
  });

  it('closes every connection with a close frame after its lifetime', async () => {
    const simulator = await start({ closeAfter: { seconds: 0.3, code: 4000, reason: 'lifetime' } });
    const { ws, openedAt } = await openClient(simulator.url);
    const { code, reason, at } = await closed(ws);
    expect({ code, reason }).toEqual({ code: 4000, reason: 'lifetime' });
    expect((at - openedAt) / 1000).toBeGreaterThanOrEqual(0.25);
    await waitFor(() => simulator.stats().open === 0);
    expect(simulator.stats()).toMatchObject({ closedAfterLifetime: 1, clientCloseCodes: {}, abnormalClientCloses: 0 });
  });

  it('stops answering pings beyond degradeAfter and answers those handshakes later the more are open', async () => {
    const simulator = await start({ degradeAfter: { open: 2, handshakeDelayMs: 150 } });
    const timed = async () => {
      const started = performance.now();
      const { ws, openedAt } = await openClient(simulator.url);
      return { ws, handshakeMs: openedAt - started };
    };
    const healthy = [await timed(), await timed()];
    const third = await timed();
    const fourth = await timed();
    expect(healthy.every((client) => client.handshakeMs < 100)).toBe(true);
    expect(third.handshakeMs).toBeGreaterThanOrEqual(140);
    expect(fourth.handshakeMs).toBeGreaterThanOrEqual(290);
    const pong = (ws: WebSocket) =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 400);
        ws.once('pong', () => (clearTimeout(timer), resolve(true)));
        ws.ping();
      });
    expect(await Promise.all([...healthy, third, fourth].map((client) => pong(client.ws)))).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(simulator.stats()).toMatchObject({ open: 4, accepted: 4, degraded: 2 });
  });

  it('stop() returns promptly with a degraded handshake still waiting', async () => {
    const simulator = await start({ degradeAfter: { open: 1, handshakeDelayMs: 5_000 } });
    await openClient(simulator.url);
    const waiting = attempt(simulator.url);
    await waitFor(() => simulator.stats().open === 2);
    const started = performance.now();
    await simulator.stop();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect((await waiting).kind).toBe('error');
  });

  it('refuses a close code that cannot be sent in a close frame', async () => {
    await expect(startTargetSimulator({ closeAfter: { seconds: 1, code: 1006 } })).rejects.toThrow(RangeError);
  });

  it('answers every upgrade with the rejectAll status', async () => {
    const simulator = await start({ rejectAll: 401, cap: { limit: 10, response: { kind: 'reset' } } });
    expect(await attempt(simulator.url)).toEqual({ kind: 'status', status: 401, retryAfter: undefined });
    expect(await attempt(simulator.url)).toEqual({ kind: 'status', status: 401, retryAfter: undefined });
    expect(simulator.stats()).toMatchObject({ accepted: 0, open: 0, refusedByStatus: { '401': 2 } });
  });

  it('answers a plain HTTP request with 426 Upgrade Required', async () => {
    const simulator = await start({});
    const status = await new Promise<number | undefined>((resolve, reject) => {
      get(`http://127.0.0.1:${simulator.port}/`, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject);
    });
    expect(status).toBe(426);
  });

  it('records the close codes of client-initiated closes and counts terminations as abnormal', async () => {
    const simulator = await start({});
    const opened = await Promise.all([1, 2, 3].map(() => openClient(simulator.url)));
    await Promise.all(
      opened.map(({ ws }) => {
        const done = closed(ws);
        ws.close(1000);
        return done;
      }),
    );
    await waitFor(() => simulator.stats().open === 0);
    expect(simulator.stats().clientCloseCodes).toEqual({ '1000': 3 });

    const { ws } = await openClient(simulator.url);
    ws.close(4100, 'bye');
    await waitFor(() => simulator.stats().open === 0);
    const { ws: dropped } = await openClient(simulator.url);
    dropped.terminate();
    await waitFor(() => simulator.stats().open === 0);
    expect(simulator.stats()).toMatchObject({
      accepted: 5,
      peakOpen: 3,
      clientCloseCodes: { '1000': 3, '4100': 1 },
      abnormalClientCloses: 1,
      idleTimeouts: 0,
    });
  });

  it('stop() closes every connection, is idempotent and leaves no sockets behind', async () => {
    const tcpHandles = (): number =>
      process.getActiveResourcesInfo().filter((name) => name === 'TCPServerWrap' || name === 'TCPSocketWrap').length;
    const before = tcpHandles();
    const simulator = await start({ idleTimeoutSeconds: 30, closeAfter: { seconds: 30, code: 4000 } });
    const opened = await Promise.all([1, 2].map(() => openClient(simulator.url)));
    const clientsClosed = Promise.all(opened.map(({ ws }) => closed(ws)));

    const first = simulator.stop();
    const second = simulator.stop();
    await Promise.all([first, second]);
    expect((await clientsClosed).map(({ code }) => code)).toEqual([1006, 1006]);
    expect(simulator.stats()).toMatchObject({
      open: 0,
      abnormalClientCloses: 0,
      clientCloseCodes: {},
      idleTimeouts: 0,
    });
    await expect(simulator.stop()).resolves.toBeUndefined();

    expect(await attempt(simulator.url)).toMatchObject({ kind: 'error', code: 'ECONNREFUSED' });
    await waitFor(() => tcpHandles() === before);
  });
});
