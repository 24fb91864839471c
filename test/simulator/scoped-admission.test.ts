// Tests of per-scope caps and rate limits on a real server on 127.0.0.1, with real ws clients bound to 127.0.0.1 and
// 127.0.0.2 (both loopback on Linux) or carrying different API keys: each scope gets its own share, a shared key is
// one global limit, the stats name header values only as "key N"; and the limit-scope decision reads what the
// clients saw as the right scope.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import { decideLimitScope, type SourceFill } from '../../functions/diagnose/limit-scope-decision.js';
import { ScopedAdmission, type ScopedLimitsOptions } from '../../functions/simulator/scoped-admission.js';

const servers: Array<{ server: Server; wss: WebSocketServer }> = [];
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  await Promise.all(
    servers.splice(0).map(async ({ server, wss }) => {
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }),
  );
});

/** A ws server on 127.0.0.1 whose upgrades go through `admission`. */
async function scopedServer(options: ScopedLimitsOptions): Promise<{ url: string; admission: ScopedAdmission }> {
  const admission = new ScopedAdmission(options);
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((_req, res) => res.writeHead(426).end());
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const decision = admission.admit(req);
    if (!decision.admitted) {
      const retryAfter =
        decision.retryAfterSeconds === undefined ? '' : `Retry-After: ${decision.retryAfterSeconds}\r\n`;
      socket.end(`HTTP/1.1 ${decision.status} Refused\r\nConnection: close\r\nContent-Length: 0\r\n${retryAfter}\r\n`);
      return;
    }
    socket.once('close', decision.release);
    wss.handleUpgrade(req, socket, head, () => {});
  });
  servers.push({ server, wss });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `ws://127.0.0.1:${(server.address() as { port: number }).port}`, admission };
}

/** Opens `count` clients one after the other with `options`; returns how many opened and how many were refused. */
async function openFrom(
  url: string,
  count: number,
  options: ClientOptions,
): Promise<{ opened: number; refused: number }> {
  let opened = 0;
  let refused = 0;
  for (let i = 0; i < count; i += 1) {
    const outcome = await new Promise<'open' | 'refused'>((resolve, reject) => {
      const ws = new WebSocket(url, options);
      clients.push(ws);
      ws.on('open', () => resolve('open'));
      ws.on('unexpected-response', (req) => {
        req.destroy();
        resolve('refused');
      });
      ws.on('error', reject);
    });
    if (outcome === 'open') opened += 1;
    else refused += 1;
  }
  return { opened, refused };
}

function fillOf(label: string, seen: { opened: number; refused: number }): SourceFill {
  return { label, admitted: seen.opened, refused: seen.refused };
}

const CAP = { limit: 3, status: 503 };

describe('ScopedAdmission', () => {
  it('gives each source address its own cap, and the decision finds the cap per source address', async () => {
    const { url, admission } = await scopedServer({ scope: { kind: 'source-address' }, cap: CAP });
    const first = await openFrom(url, 4, { localAddress: '127.0.0.1' });
    const second = await openFrom(url, 4, { localAddress: '127.0.0.2' });
    expect([first, second]).toEqual([
      { opened: 3, refused: 1 },
      { opened: 3, refused: 1 },
    ]);
    expect(admission.stats().open).toEqual({ '127.0.0.1': 3, '127.0.0.2': 3 });
    const decision = decideLimitScope({
      limit: { kind: 'concurrency-cap', count: 3 },
      scopeKind: 'source-address',
      first: fillOf('127.0.0.1', first),
      others: [fillOf('127.0.0.2', second)],
    });
    expect(decision).toMatchObject({ scope: 'source-address', perScope: 3, sources: 2 });
  });

  it('gives each header value its own cap, names values only as key N, and frees a slot on close', async () => {
    const { url, admission } = await scopedServer({ scope: { kind: 'header', name: 'X-Api-Key' }, cap: CAP });
    const first = await openFrom(url, 4, { headers: { 'X-Api-Key': 'key-sekrit-1' } });
    const second = await openFrom(url, 4, { headers: { 'X-Api-Key': 'key-sekrit-2' } });
    expect([first, second]).toEqual([
      { opened: 3, refused: 1 },
      { opened: 3, refused: 1 },
    ]);
    expect(await openFrom(url, 1, {})).toEqual({ opened: 1, refused: 0 });
    expect(admission.stats().peakOpen).toEqual({ 'key 1': 3, 'key 2': 3, 'no key': 1 });
    expect(JSON.stringify(admission.stats())).not.toContain('sekrit');
    const one = clients[0]!;
    await new Promise((resolve) => one.once('close', resolve).close(1000));
    await expect.poll(() => admission.stats().open['key 1']).toBe(2);
    expect(await openFrom(url, 1, { headers: { 'X-Api-Key': 'key-sekrit-1' } })).toEqual({ opened: 1, refused: 0 });
  });

  it('is one global cap for sources it does not key by, and the decision says global', async () => {
    const { url } = await scopedServer({ scope: { kind: 'header', name: 'X-Tenant' }, cap: CAP });
    const first = await openFrom(url, 4, { localAddress: '127.0.0.1' });
    const second = await openFrom(url, 2, { localAddress: '127.0.0.2' });
    expect(second).toEqual({ opened: 0, refused: 2 });
    const decision = decideLimitScope({
      limit: { kind: 'concurrency-cap', count: 3 },
      scopeKind: 'source-address',
      first: fillOf('127.0.0.1', first),
      others: [fillOf('127.0.0.2', second)],
    });
    expect(decision).toMatchObject({ scope: 'global', perScope: 3, sources: 2 });
  });

  it('keeps a token bucket per source address, refusing with 429 and Retry-After', async () => {
    const { url, admission } = await scopedServer({
      scope: { kind: 'source-address' },
      rateLimit: { perSecond: 0.1, burst: 2, retryAfterSeconds: 5 },
    });
    expect(await openFrom(url, 3, { localAddress: '127.0.0.1' })).toEqual({ opened: 2, refused: 1 });
    expect(await openFrom(url, 3, { localAddress: '127.0.0.2' })).toEqual({ opened: 2, refused: 1 });
    expect(admission.stats().refused).toEqual({ '127.0.0.1': 1, '127.0.0.2': 1 });
    const status = await new Promise<{ status: number; retryAfter: string | undefined }>((resolve) => {
      const ws = new WebSocket(url, { localAddress: '127.0.0.2' });
      clients.push(ws);
      ws.on('error', () => {}); // ws reports the refused upgrade again as an error
      ws.on('unexpected-response', (req, res) => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] });
      });
    });
    expect(status).toEqual({ status: 429, retryAfter: '5' });
  });
});
