// Tests of the simulator's graphql-ws style session gate on a real server on 127.0.0.1, with real ws clients whose
// session handshake is the engine's state machine, driven as the connection layer will drive it: ack within the cap,
// refusals over it (error message or close, with their codes), a bad token, a silent gate (ready timeout), the
// init timeout, and an echoed secret that never reaches the excerpt.
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { SessionHandshake, type SessionState } from '../../functions/engine/session-handshake.js';
import {
  FORBIDDEN_CLOSE_CODE,
  INIT_TIMEOUT_CLOSE_CODE,
  SessionGate,
  type SessionGateOptions,
} from '../../functions/simulator/session-gate.js';

const INIT = (token: string): string => JSON.stringify({ type: 'connection_init', payload: { token } });
const READY_WHEN = { kind: 'text', text: 'connection_ack' } as const;

const servers: WebSocketServer[] = [];
const gates: SessionGate[] = [];
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  gates.splice(0).forEach((gate) => gate.stop());
  await Promise.all(
    servers.splice(0).map((server) => {
      for (const ws of server.clients) ws.terminate();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    }),
  );
});

/** A ws server on 127.0.0.1 that puts every connection behind a gate with `options`. */
async function gatedServer(options: SessionGateOptions): Promise<{ url: string; gate: SessionGate }> {
  const gate = new SessionGate(options);
  gates.push(gate);
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(server);
  server.on('connection', (ws) => gate.attach(ws));
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as { port: number };
  return { url: `ws://127.0.0.1:${port}`, gate };
}

/**
 * Opens a client, sends `initMessages` once upgraded, and drives a session handshake from its events and a ready
 * deadline; resolves with the settled state (the connection stays open when ready).
 */
function session(url: string, initMessages: string[], readyTimeoutMs = 2000, secrets: string[] = []) {
  return new Promise<SessionState>((resolve) => {
    const handshake = new SessionHandshake({ readyWhen: READY_WHEN, readyTimeoutMs, secrets });
    const ws = new WebSocket(url);
    clients.push(ws);
    let deadline: NodeJS.Timeout | undefined;
    const settle = (state: SessionState): void => {
      if (state.kind === 'waiting') return;
      clearTimeout(deadline);
      resolve(state);
    };
    ws.on('open', () => {
      for (const message of initMessages) ws.send(message);
      handshake.opened(Date.now());
      deadline = setTimeout(() => settle(handshake.deadlinePassed(Date.now())), readyTimeoutMs);
    });
    ws.on('message', (data: Buffer) => settle(handshake.message(data.toString('utf8'), Date.now())));
    ws.on('close', (code: number, reason: Buffer) => settle(handshake.closed(code, reason.toString(), Date.now())));
  });
}

describe('SessionGate', () => {
  it('acks sessions up to its cap and refuses the next with an error message and its close code', async () => {
    const { url, gate } = await gatedServer({
      cap: 3,
      refusal: 'error-message',
      closeCode: 4429,
      greeting: '{"type":"ka"}',
    });
    const ready = await Promise.all([1, 2, 3].map(() => session(url, [INIT('t')])));
    expect(ready.map((state) => state.kind)).toEqual(['ready', 'ready', 'ready']);
    const refused = await session(url, [INIT('t')]);
    expect(refused).toMatchObject({
      kind: 'rejected',
      rejection: {
        reason: 'error-message',
        excerpt: '{"type":"connection_error","payload":{"message":"Too many sessions"}}',
      },
    });
    expect(gate.stats()).toMatchObject({ sessions: 3, peakSessions: 3, acked: 3, refused: { cap: 1 } });
  });

  it('frees a session slot when its connection closes', async () => {
    const { url, gate } = await gatedServer({ cap: 1, refusal: 'close', closeCode: 4429 });
    expect((await session(url, [INIT('t')])).kind).toBe('ready');
    const first = clients[0]!;
    await new Promise((resolve) => first.once('close', resolve).close(1000));
    await expect.poll(() => gate.stats().sessions).toBe(0);
    expect((await session(url, [INIT('t')])).kind).toBe('ready');
  });

  it('refuses over the cap with a close alone, which the handshake keeps with its code and reason', async () => {
    const { url } = await gatedServer({ cap: 0, refusal: 'close', closeCode: 4429 });
    expect(await session(url, [INIT('t')])).toMatchObject({
      kind: 'rejected',
      rejection: { reason: 'closed', closeCode: 4429, excerpt: 'Too many sessions' },
    });
  });

  it('refuses a bad token with 4403, and an echoed secret never reaches the excerpt', async () => {
    const secret = 'tok-sekrit-4f1c';
    const { url, gate } = await gatedServer({ refusal: 'close', closeCode: 4429, token: 'right', echo: true });
    const state = await session(url, [INIT(secret)], 2000, [INIT(secret), secret]);
    expect(state).toMatchObject({ kind: 'rejected', rejection: { reason: 'closed', closeCode: FORBIDDEN_CLOSE_CODE } });
    expect(JSON.stringify(state)).not.toContain('sekrit');
    expect(JSON.stringify(state)).toContain('Forbidden');
    expect(gate.stats().refused.token).toBe(1);
  });

  it('leaves a silent session to the ready timeout', async () => {
    const { url } = await gatedServer({ refusal: 'close', closeCode: 4429, silent: true });
    expect(await session(url, [INIT('t')], 300)).toMatchObject({
      kind: 'rejected',
      rejection: { reason: 'ready-timeout' },
    });
  });

  it('closes a connection that sends no init in time with 4408', async () => {
    const { url, gate } = await gatedServer({ refusal: 'close', closeCode: 4429, initTimeoutSeconds: 0.2 });
    expect(await session(url, [])).toMatchObject({
      kind: 'rejected',
      rejection: { reason: 'closed', closeCode: INIT_TIMEOUT_CLOSE_CODE },
    });
    expect(gate.stats().initTimeouts).toBe(1);
  });

  it('is ready only at the delayed ack, reporting the time to ready', async () => {
    const { url } = await gatedServer({ refusal: 'close', closeCode: 4429, ackDelayMs: 150 });
    const state = await session(url, [INIT('t')]);
    expect(state.kind).toBe('ready');
    expect(state.kind === 'ready' && state.readyMs).toBeGreaterThanOrEqual(140);
  });
});
