/**
 * A URL provider for the simulator: an HTTP endpoint on loopback that hands
 * out one WebSocket URL (or one token) per session, the way a REST API that
 * creates a chat or contact-centre session does. Each answer carries a fresh
 * token the target can check with `isIssued`. It can demand a header
 * (401 without it), rate-limit its own calls (429 with Retry-After), stop
 * handing out sessions after a count (503), answer late, or answer with a
 * body that is not JSON: the failures the probe must report as the REST
 * API's, not the WebSocket gateway's.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { TokenBucket, type RateLimitOptions } from './token-bucket.js';

/** How the endpoint answers. */
export interface UrlProviderEndpointOptions {
  /** The ws:// URL the handed-out URLs point at (the simulator's). */
  targetUrl: string;
  /** `url`: `{"data":{"url":"ws://…/s/<n>?token=<token>"}}`; `token`: `{"token":"<token>"}`. */
  answer: 'url' | 'token';
  /** A header every call must carry with this value, or it is answered 401. */
  requireHeader?: { name: string; value: string };
  /** Calls beyond this token bucket are answered 429 with Retry-After. */
  rateLimit?: RateLimitOptions;
  /** Sessions handed out in all; calls after them are answered 503. */
  cap?: number;
  /** Milliseconds before each answer. */
  delayMs?: number;
  /** Answer 200 with a body that is not JSON. */
  malformed?: boolean;
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** Port to bind; default 0 (any free port). */
  port?: number;
  /** Text each handed-out token starts with (a planted secret tests look for); default none. */
  tokenPrefix?: string;
}

/** What the endpoint has done. */
interface UrlProviderStats {
  issued: number;
  /** Refused calls by HTTP status. */
  refusedByStatus: Record<string, number>;
  /** The request bodies it received, in order (so tests can check templates were filled in). */
  bodies: string[];
}

/** A started endpoint. */
export interface RunningUrlProvider {
  /** `http://host:port/sessions`, to POST to. */
  url: string;
  stats(): UrlProviderStats;
  /** Whether `token` was handed out by this endpoint. */
  isIssued(token: string): boolean;
  /** Closes the server and every connection to it. Idempotent. */
  stop(): Promise<void>;
}

/** Starts the endpoint on loopback (any free port); resolves once it listens. */
export async function startUrlProviderEndpoint(options: UrlProviderEndpointOptions): Promise<RunningUrlProvider> {
  const issued = new Set<string>();
  const stats: UrlProviderStats = { issued: 0, refusedByStatus: {}, bodies: [] };
  const bucket = options.rateLimit ? new TokenBucket(options.rateLimit, performance.now()) : undefined;
  const timers = new Set<NodeJS.Timeout>();
  const refuse = (res: ServerResponse, status: number, headers: Record<string, string> = {}): void => {
    stats.refusedByStatus[String(status)] = (stats.refusedByStatus[String(status)] ?? 0) + 1;
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end('{"message":"refused"}');
  };
  const answer = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    stats.bodies.push(body);
    const { requireHeader, rateLimit, cap } = options;
    if (requireHeader && req.headers[requireHeader.name.toLowerCase()] !== requireHeader.value) refuse(res, 401);
    else if (bucket && rateLimit && !bucket.take(performance.now())) {
      refuse(res, 429, { 'Retry-After': String(rateLimit.retryAfterSeconds) });
    } else if (cap !== undefined && stats.issued >= cap) refuse(res, 503);
    else if (options.malformed) res.writeHead(200, { 'Content-Type': 'application/json' }).end('<html>ok</html>');
    else {
      const token = `${options.tokenPrefix ?? ''}${randomUUID()}`;
      issued.add(token);
      stats.issued += 1;
      const url = `${options.targetUrl}/s/${stats.issued}?token=${token}`;
      const json = options.answer === 'url' ? { data: { url } } : { token };
      res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify(json));
    }
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (!options.delayMs) return answer(req, res, body);
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer(req, res, body);
      }, options.delayMs);
      timers.add(timer);
    });
  });
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, host, options.port ?? 0);
  let stopped: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}/sessions`,
    stats: () => ({ ...stats, refusedByStatus: { ...stats.refusedByStatus }, bodies: [...stats.bodies] }),
    isIssued: (token) => issued.has(token),
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}
