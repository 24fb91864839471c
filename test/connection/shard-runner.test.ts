import type { IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { runShard, type ShardInput } from '../../functions/connection/shard-runner.js';
import { classifyRecord } from '../../functions/engine/classify.js';
import { planRun } from '../../functions/engine/plan.js';
import { RampControl } from '../../functions/engine/ramp-control.js';
import type { HeartbeatSettings, ProbeSettings, ShardEvent } from '../../functions/engine/types.js';
import {
  startTargetSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../functions/simulator/target-simulator.js';
import { closedPort } from '../support/ports.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function simulator(options: SimulatorOptions): Promise<RunningSimulator> {
  const running = await startTargetSimulator(options);
  cleanups.push(() => running.stop());
  return running;
}

function settingsFor(url: string, overrides: Partial<ProbeSettings> = {}): ProbeSettings {
  return {
    url,
    targetId: 't',
    stages: [10],
    holdSeconds: 0.5,
    connectRate: 200,
    maxInFlight: 20,
    handshakeTimeoutSeconds: 1,
    heartbeat: { kind: 'off' },
    headers: {},
    subprotocols: [],
    tolerance: { kind: 'count', value: 0 },
    maxConnections: 1000,
    shardSize: 900,
    stopAtFirstFailingStage: true,
    regressionTolerance: 0.1,
    baselineRuns: 7,
    ...overrides,
  };
}

async function runOneShard(settings: ProbeSettings, control?: RampControl, onEvent?: (event: ShardEvent) => void) {
  const plan = planRun(settings, { now: Date.now, newRunId: () => 'run', startDelayMs: 50 });
  const rampControl = control ?? new RampControl(settings.tolerance, settings.stages, settings.stopAtFirstFailingStage);
  const input: ShardInput = { ...settings, stages: plan.stages, shard: plan.shards[0]! };
  return { result: await runShard(input, { control: rampControl, ...(onEvent ? { onEvent } : {}) }), plan };
}

/** A plain ws server on 127.0.0.1 port 0, stopped (every client terminated) after the test. */
async function wsServer(options: { autoPong?: boolean } = {}): Promise<{ server: WebSocketServer; url: string }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  cleanups.push(() => {
    for (const client of server.clients) client.terminate();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  await new Promise((resolve) => server.once('listening', resolve));
  return { server, url: `ws://127.0.0.1:${(server.address() as { port: number }).port}` };
}

describe('runShard', () => {
  it('opens and holds each stage, then closes every connection with 1000 without counting it as a drop', async () => {
    const target = await simulator({});
    const { result } = await runOneShard(settingsFor(target.url, { stages: [5, 12] }));
    expect(result.stagesRun).toBe(2);
    expect(result.records).toHaveLength(12);
    expect(result.records.filter((r) => r.stage === 0)).toHaveLength(5);
    expect(result.records.every((r) => r.outcome === 'opened' && r.close?.closedBy === 'probe')).toBe(true);
    expect(result.records.every((r) => classifyRecord(r, { anyOpenedBefore: true }) === undefined)).toBe(true);
    expect(result.records.every((r) => r.handshakeMs !== undefined && r.tcpConnectedAt !== undefined)).toBe(true);
    await target.stop();
    expect(target.stats().clientCloseCodes).toEqual({ '1000': 12 });
    expect(target.stats().abnormalClientCloses).toBe(0);
  });

  it('records the status and Retry-After of refused upgrades', async () => {
    const target = await simulator({ rateLimit: { perSecond: 1, burst: 3, retryAfterSeconds: 7 } });
    const { result } = await runOneShard(settingsFor(target.url, { stages: [6] }));
    const refused = result.records.filter((r) => r.outcome === 'rejected');
    expect(result.records.filter((r) => r.outcome === 'opened')).toHaveLength(3);
    expect(refused).toHaveLength(3);
    expect(refused.every((r) => r.status === 429 && r.retryAfter === '7')).toBe(true);
  });

  it('tells a handshake timeout after TCP connected from a refusal (a queueing gateway)', async () => {
    const target = await simulator({ cap: { limit: 2, response: { kind: 'queue' } } });
    const { result } = await runOneShard(settingsFor(target.url, { stages: [4], handshakeTimeoutSeconds: 0.3 }));
    const timedOut = result.records.filter((r) => r.outcome === 'handshake-timeout');
    expect(timedOut).toHaveLength(2);
    expect(timedOut.every((r) => r.tcpConnectedAt !== undefined && r.settledAt - r.attemptedAt >= 300)).toBe(true);
  });

  it(
    'ends a stage only once its pending handshakes settle, at most one handshake timeout after its hold, so a ' +
      'queueing gateway is seen with a hold shorter than the handshake timeout',
    async () => {
      const target = await simulator({ cap: { limit: 2, response: { kind: 'queue' } } });
      const settings = settingsFor(target.url, { stages: [2, 4, 6], holdSeconds: 0.2, handshakeTimeoutSeconds: 1 });
      const { result, plan } = await runOneShard(settings);
      const queued = result.records.filter((record) => record.stage === 1);
      expect(queued.map((record) => record.outcome)).toEqual(['handshake-timeout', 'handshake-timeout']);
      // The stage waited past its hold for them, and ramping stopped after it.
      expect(result.stagesRun).toBe(2);
      expect(result.records).toHaveLength(4);
      const firstProbeClose = Math.min(...result.records.map((record) => record.close?.at ?? Infinity));
      expect(firstProbeClose).toBeGreaterThan(Math.max(...queued.map((record) => record.settledAt)));
      expect(firstProbeClose).toBeGreaterThan(plan.stages[1]!.holdEndsAt + 500);
    },
  );

  it('sends the headers and subprotocols given, with per-message deflate off', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: (protocols) => [...protocols][0] ?? false,
    });
    server.on('connection', (_socket, request) => seen.push(request.headers));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/chat`;
    const { result } = await runOneShard(
      settingsFor(url, { stages: [2], headers: { 'X-Tenant': 'acme' }, subprotocols: ['chat.v1'] }),
    );
    expect(result.records.every((r) => r.outcome === 'opened')).toBe(true);
    expect(seen).toHaveLength(2);
    expect(seen.every((h) => h['x-tenant'] === 'acme' && h['sec-websocket-protocol'] === 'chat.v1')).toBe(true);
    expect(seen.some((h) => h['sec-websocket-extensions'] !== undefined)).toBe(false);
  });

  it.each<[string, HeartbeatSettings, string]>([
    ['protocol pings', { kind: 'ping', intervalSeconds: 0.2, pongTimeoutSeconds: 1 }, 'ping'],
    [
      'application messages',
      { kind: 'message', intervalSeconds: 0.2, payload: '{"type":"heartbeat"}' },
      '{"type":"heartbeat"}',
    ],
  ])('keeps connections alive with %s', async (_name, heartbeat, expected) => {
    const received: string[] = [];
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    server.on('connection', (socket) => {
      socket.on('ping', () => received.push('ping'));
      // A server socket's messages arrive as Buffers (ws's default binaryType).
      socket.on('message', (data: Buffer) => received.push(data.toString()));
    });
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}`;
    await runOneShard(settingsFor(url, { stages: [2], holdSeconds: 0.7, heartbeat }));
    expect(received.length).toBeGreaterThanOrEqual(4);
    expect(new Set(received)).toEqual(new Set([expected]));
  });

  it('drops a connection whose pong does not come back in time as a pong timeout', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: false });
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}`;
    const heartbeat: HeartbeatSettings = { kind: 'ping', intervalSeconds: 0.2, pongTimeoutSeconds: 0.2 };
    const { result } = await runOneShard(settingsFor(url, { stages: [3], holdSeconds: 1, heartbeat }));
    expect(result.records.every((r) => r.close?.closedBy === 'pong-timeout')).toBe(true);
    expect(result.records.every((r) => classifyRecord(r, { anyOpenedBefore: true }) === 'pong-timeout')).toBe(true);
  });

  it('drops connections as pong timeouts when the pong timeout is longer than the ping interval', async () => {
    const { url } = await wsServer({ autoPong: false });
    const heartbeat: HeartbeatSettings = { kind: 'ping', intervalSeconds: 0.2, pongTimeoutSeconds: 0.5 };
    const { result } = await runOneShard(settingsFor(url, { stages: [3], holdSeconds: 1.5, heartbeat }));
    expect(result.records).toHaveLength(3);
    expect(result.records.every((r) => r.close?.closedBy === 'pong-timeout')).toBe(true);
    // The first ping goes out 0.2 s after opening; its pong is overdue 0.5 s later.
    expect(result.records.every((r) => r.close!.ageMs >= 700)).toBe(true);
  });

  it('never records a connection the probe is closing as a drop while the server answers the close late', async () => {
    // The server never answers pings, and stops reading at the end of the hold so the close
    // handshake never completes; pongs fall due during the probe's close grace.
    const { server, url } = await wsServer({ autoPong: false });
    const heartbeat: HeartbeatSettings = { kind: 'ping', intervalSeconds: 0.2, pongTimeoutSeconds: 1.5 };
    const stopReading = (event: ShardEvent) => {
      if (event.type === 'stage-ended') for (const client of server.clients) client.pause();
    };
    const { result } = await runOneShard(
      settingsFor(url, { stages: [3], holdSeconds: 0.3, heartbeat }),
      undefined,
      stopReading,
    );
    expect(result.records).toHaveLength(3);
    expect(result.records.every((r) => r.close?.closedBy === 'probe' && r.close.code === 1006)).toBe(true);
    expect(result.records.every((r) => classifyRecord(r, { anyOpenedBefore: true }) === undefined)).toBe(true);
  });

  it('runs 20 shards on one RampControl without a MaxListenersExceededWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    cleanups.push(() => void process.off('warning', onWarning));
    const target = await simulator({});
    const settings = settingsFor(target.url, { stages: [20], shardSize: 1, holdSeconds: 0.3 });
    const plan = planRun(settings, { now: Date.now, newRunId: () => 'run', startDelayMs: 100 });
    expect(plan.shards).toHaveLength(20);
    const control = new RampControl(settings.tolerance, settings.stages, true);
    const results = await Promise.all(
      plan.shards.map((shard) => runShard({ ...settings, stages: plan.stages, shard }, { control })),
    );
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(results.flatMap((r) => r.records).filter((r) => r.outcome === 'opened')).toHaveLength(20);
    expect(warnings).toEqual([]);
    // Each shard still reports the event-loop delay of the stage it held.
    expect(
      results.every(
        (r) =>
          r.loopDelay.length === 1 && r.loopDelay[0]!.stage === 0 && r.loopDelay[0]!.maxMs >= r.loopDelay[0]!.p99Ms,
      ),
    ).toBe(true);
  });

  it('aborts at once as unreachable when nothing listens', async () => {
    const port = await closedPort();
    const started = Date.now();
    const { result } = await runOneShard(settingsFor(`ws://127.0.0.1:${port}`, { stages: [5, 10], holdSeconds: 5 }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.aborted?.failureClass).toBe('unreachable');
    expect(result.records[0]?.errorCode).toBe('ECONNREFUSED');
    expect(result.stagesRun).toBe(0);
  });

  it('stops when the kill switch is pulled and still returns every record, closed by the probe', async () => {
    const target = await simulator({});
    const settings = settingsFor(target.url, { stages: [5, 10], holdSeconds: 30 });
    const control = new RampControl(settings.tolerance, settings.stages, true);
    setTimeout(() => control.abort({ failureClass: 'interrupted', message: 'test' }), 400);
    const started = Date.now();
    const { result } = await runOneShard(settings, control);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(result.aborted?.failureClass).toBe('interrupted');
    expect(result.records).toHaveLength(5);
    expect(result.records.every((r) => r.close?.closedBy === 'probe')).toBe(true);
  });

  it(
    'sends nothing while the control holds new upgrades off, then goes on at its pace and holds the stage that ' +
      'much longer',
    async () => {
      const target = await simulator({});
      const settings = settingsFor(target.url, { stages: [10], connectRate: 100, holdSeconds: 0.3 });
      const control = new RampControl(settings.tolerance, settings.stages, true);
      let held = false;
      const { result, plan } = await runOneShard(settings, control, (event) => {
        if (!held && event.type === 'settled' && event.record.id === 2) {
          held = true;
          control.holdOff(event.record.settledAt + 500);
        }
      });
      const attempts = result.records.map((record) => record.attemptedAt).sort((a, b) => a - b);
      const gaps = attempts.slice(1).map((at, index) => at - (attempts[index] ?? at));
      // One gap of the hold-off; after it the pace of 100/s again, not a burst to catch up (timers are only ever late).
      expect(gaps.filter((gap) => gap >= 450)).toHaveLength(1);
      const after = attempts.slice(gaps.findIndex((gap) => gap >= 450) + 1);
      expect(after.length).toBeGreaterThan(3);
      expect((after[after.length - 1] ?? 0) - (after[0] ?? 0)).toBeGreaterThanOrEqual((after.length - 1) * 8);
      // The stage's hold ends about 0.5 s later than planned: the first close by the probe comes after that.
      const firstClose = Math.min(...result.records.map((record) => record.close?.at ?? Number.POSITIVE_INFINITY));
      expect(firstClose).toBeGreaterThanOrEqual((plan.stages[0]?.holdEndsAt ?? 0) + 400);
    },
  );
});
