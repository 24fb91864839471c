// Tests of the simulator modes that diagnose's window and queue checks run against: the window count itself (pure),
// fixed and sliding windows of "N upgrades per W seconds" on a real server, and a cap whose queue holds an upgrade
// some seconds before it refuses it.
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';
import { UpgradeWindow } from '../../functions/simulator/upgrade-window.js';

type Outcome = { kind: 'open'; at: number } | { kind: 'status'; status: number; retryAfter?: string; at: number };

const clients: WebSocket[] = [];
const simulators: RunningSimulator[] = [];

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  await Promise.all(simulators.splice(0).map((simulator) => simulator.stop()));
});

function attempt(url: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    clients.push(ws);
    ws.on('error', reject);
    ws.on('unexpected-response', (req, res) => {
      const retryAfter = res.headers['retry-after'];
      resolve({ kind: 'status', status: res.statusCode ?? 0, ...(retryAfter ? { retryAfter } : {}), at: Date.now() });
      req.destroy();
    });
    ws.on('open', () => resolve({ kind: 'open', at: Date.now() }));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('UpgradeWindow', () => {
  it('lets N through per fixed window and starts counting again at each multiple of W', () => {
    const window = new UpgradeWindow({ kind: 'fixed', count: 3, seconds: 1 }, 0);
    expect([100, 200, 300, 400].map((at) => window.admit(at).admitted)).toEqual([true, true, true, false]);
    expect(window.admit(400)).toEqual({ admitted: false, retryAfterSeconds: 1 });
    expect([1000, 1001, 1002, 1003].map((at) => window.admit(at).admitted)).toEqual([true, true, true, false]);
    expect(window.admit(3500).admitted).toBe(true);
  });

  it('lets at most N through in any W seconds of a sliding window, with Retry-After until the oldest leaves it', () => {
    const window = new UpgradeWindow({ kind: 'sliding', count: 2, seconds: 2 }, 0);
    expect(window.admit(0).admitted).toBe(true);
    expect(window.admit(1500).admitted).toBe(true);
    expect(window.admit(1900)).toEqual({ admitted: false, retryAfterSeconds: 1 });
    expect(window.admit(2000).admitted).toBe(true);
    expect(window.admit(2100)).toEqual({ admitted: false, retryAfterSeconds: 2 });
    expect(window.admit(3500).admitted).toBe(true);
  });

  it('sends a fixed Retry-After when one is set', () => {
    const window = new UpgradeWindow({ kind: 'sliding', count: 1, seconds: 60, retryAfterSeconds: 0 }, 0);
    window.admit(0);
    expect(window.admit(10)).toEqual({ admitted: false, retryAfterSeconds: 0 });
  });
});

describe('target simulator limits', () => {
  it('refuses beyond a fixed window with 429 while connections stay open, and lets N through in the next', async () => {
    const simulator = await startTargetSimulator({ window: { kind: 'fixed', count: 5, seconds: 0.6 } });
    simulators.push(simulator);
    // The first window starts with the simulator, so these attempts fall in it and the next ones in the second.
    const first = await Promise.all(Array.from({ length: 7 }, () => attempt(simulator.url)));
    expect(first.filter((outcome) => outcome.kind === 'open')).toHaveLength(5);
    expect(first.filter((outcome) => outcome.kind === 'status' && outcome.status === 429)).toHaveLength(2);
    expect(first.find((outcome) => outcome.kind === 'status')).toMatchObject({ retryAfter: '1' });
    await sleep(650);
    const second = await Promise.all(Array.from({ length: 7 }, () => attempt(simulator.url)));
    expect(second.filter((outcome) => outcome.kind === 'open').length).toBeGreaterThanOrEqual(5);
    expect(simulator.stats().open).toBeGreaterThanOrEqual(10);
  });

  it('frees a sliding window W after the upgrades it counted, not when connections close', async () => {
    const simulator = await startTargetSimulator({ window: { kind: 'sliding', count: 3, seconds: 0.5 } });
    simulators.push(simulator);
    const first = await Promise.all(Array.from({ length: 3 }, () => attempt(simulator.url)));
    expect(first.every((outcome) => outcome.kind === 'open')).toBe(true);
    for (const ws of clients.splice(0)) ws.close();
    expect(await attempt(simulator.url)).toMatchObject({ kind: 'status', status: 429 });
    await sleep(550);
    expect(await attempt(simulator.url)).toMatchObject({ kind: 'open' });
  });

  it('holds an upgrade over the cap for queue-wait seconds, then refuses it with the cap status', async () => {
    const simulator = await startTargetSimulator({
      cap: { limit: 2, response: { kind: 'status', status: 503, queueSeconds: 0.4 } },
    });
    simulators.push(simulator);
    await Promise.all([attempt(simulator.url), attempt(simulator.url)]);
    const sent = Date.now();
    const refused = await attempt(simulator.url);
    expect(refused).toMatchObject({ kind: 'status', status: 503 });
    expect(refused.at - sent).toBeGreaterThanOrEqual(380);
    expect(simulator.stats().refusedByStatus).toEqual({ '503': 1 });
  });

  it('stop() returns promptly with an upgrade still held in the queue', async () => {
    const simulator = await startTargetSimulator({
      cap: { limit: 1, response: { kind: 'status', status: 503, queueSeconds: 30 } },
    });
    await attempt(simulator.url);
    const held = new WebSocket(simulator.url);
    held.on('error', () => undefined);
    clients.push(held);
    await sleep(50);
    const started = Date.now();
    await simulator.stop();
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
