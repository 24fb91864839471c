/**
 * Calls a target's URL provider (`--session-url-from`) before each upgrade:
 * one HTTP request per connection, paced at the provider's own rate, with
 * its own timeout, for the URL or token it hands out. Its failures are
 * session-setup failures, apart from the upgrades: an HTTP status (a 429
 * there is the REST API's rate limit, not the WebSocket gateway's), a
 * timeout, a network error, or a response without a usable value.
 *
 * The value is a secret, and so is everything else in the response: a
 * failure says what was wrong in fixed words (the JSON path is the only
 * thing it names), never what the response held, and the value goes only
 * to the caller.
 */
import http from 'node:http';
import https from 'node:https';
import { expandTemplate, expandUrlTemplate, type ConnectionValues } from '../engine/connection-template.js';
import { describeJsonPath, readJsonPath } from '../engine/json-path.js';
import type { UrlProviderFailure } from '../engine/session-setup.js';
import type { SessionUrlSource } from '../engine/session-url-source.js';

/** Largest response read, in bytes. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** Longest value accepted, in characters. */
const MAX_VALUE_LENGTH = 8 * 1024;

/** What one call of the provider gave. `value` is a secret. */
export type SessionUrlOutcome = { waitedMs: number; setupMs: number } & (
  { ok: true; value: string } | { ok: false; failure: UrlProviderFailure }
);

/** How the provider's value is used: as the connection's whole URL, or to fill `{{session}}`. */
export type SessionValueUse = 'url' | 'session';

/** What the provider needs besides its settings. */
export interface SessionUrlProviderDependencies {
  /** Epoch milliseconds. */
  now: () => number;
  /** Whether a URL the provider hands out may be connected to (the target's host; deployed, the allowlist too). */
  allowHost: (hostname: string) => boolean;
}

/** The URL provider of one shard. */
export class SessionUrlProvider {
  readonly #source: SessionUrlSource;
  readonly #deps: SessionUrlProviderDependencies;
  readonly #agents = {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true }),
  };
  /** When the next call may start, for the provider's own rate. */
  #nextAt = 0;

  constructor(source: SessionUrlSource, deps: SessionUrlProviderDependencies) {
    this.#source = source;
    this.#deps = deps;
  }

  /**
   * Calls the provider for one connection with its `values`, after waiting for a slot of the provider's rate. Never
   * throws: a failure is an outcome. An abort (the probe cancelling the attempt) ends the wait or the call as a
   * `network` failure with code `ABORT_ERR`, which the caller records as cancelled.
   */
  async fetch(values: ConnectionValues, use: SessionValueUse, signal?: AbortSignal): Promise<SessionUrlOutcome> {
    const { now } = this.#deps;
    const askedAt = now();
    try {
      await this.#slot(signal);
    } catch {
      return {
        ok: false,
        failure: { reason: 'network', errorCode: 'ABORT_ERR' },
        waitedMs: now() - askedAt,
        setupMs: 0,
      };
    }
    const startedAt = now();
    const waitedMs = startedAt - askedAt;
    const result = await this.#call(values, signal);
    const timing = { waitedMs, setupMs: now() - startedAt };
    if ('failure' in result) return { ok: false, failure: result.failure, ...timing };
    const checked = this.#valueOf(result.json, use);
    return typeof checked === 'string'
      ? { ok: true, value: checked, ...timing }
      : { ok: false, failure: checked, ...timing };
  }

  /** Lets go of kept-alive sockets. */
  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  /** Waits for the next slot of the provider's rate, if it has one. */
  async #slot(signal?: AbortSignal): Promise<void> {
    const rate = this.#source.ratePerSecond;
    signal?.throwIfAborted();
    if (rate === undefined) return;
    const now = this.#deps.now();
    const at = Math.max(now, this.#nextAt);
    this.#nextAt = at + 1000 / rate;
    if (at <= now) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(done, at - now);
      function done(): void {
        signal?.removeEventListener('abort', aborted);
        resolve();
      }
      function aborted(): void {
        clearTimeout(timer);
        reject(new Error('aborted'));
      }
      signal?.addEventListener('abort', aborted, { once: true });
    });
  }

  /** One HTTP call: the parsed JSON body of a 2xx answer, or why there is none. */
  #call(values: ConnectionValues, signal?: AbortSignal): Promise<{ json: unknown } | { failure: UrlProviderFailure }> {
    const source = this.#source;
    const url = new URL(expandUrlTemplate(source.url, values));
    const headers: Record<string, string> = {};
    for (const [name, template] of Object.entries(source.headers)) headers[name] = expandTemplate(template, values);
    const body = source.body ? expandTemplate(source.body, values) : undefined;
    if (body !== undefined && !Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
      headers['Content-Type'] = 'application/json';
    }
    const secure = url.protocol === 'https:';
    const send = secure ? https.request : http.request;
    return new Promise((resolve) => {
      let timedOut = false;
      const request = send(url, {
        method: source.method,
        headers,
        agent: this.#agents[secure ? 'https' : 'http'],
        signal,
      });
      const timer = setTimeout(() => {
        timedOut = true;
        request.destroy();
      }, source.timeoutSeconds * 1000);
      // Whatever ends a call that ran out of time (the destroyed request, a body cut short) is the timeout.
      const settle = (result: { json: unknown } | { failure: UrlProviderFailure }): void => {
        clearTimeout(timer);
        resolve(timedOut ? { failure: { reason: 'timeout' } } : result);
      };
      request.on('error', (error: NodeJS.ErrnoException) =>
        settle({ failure: { reason: 'network', errorCode: errorCodeOf(error) } }),
      );
      request.on('response', (response) => {
        const status = response.statusCode ?? 0;
        if (status < 200 || status > 299) {
          const retryAfter = response.headers['retry-after'];
          response.resume();
          settle({ failure: { reason: 'status', status, ...(typeof retryAfter === 'string' ? { retryAfter } : {}) } });
          return;
        }
        readBody(response, (outcome) => settle(outcome));
      });
      request.end(body);
    });
  }

  /** The value at the path, checked for its use, or why it cannot be used. */
  #valueOf(json: unknown, use: SessionValueUse): string | UrlProviderFailure {
    const path = describeJsonPath(this.#source.path);
    const value = readJsonPath(json, this.#source.path);
    const bad = (detail: string): UrlProviderFailure => ({ reason: 'bad-response', detail });
    if (typeof value !== 'string' || value === '') return bad(`the response has no text at ${path}`);
    if (value.length > MAX_VALUE_LENGTH)
      return bad(`the value at ${path} is longer than ${MAX_VALUE_LENGTH} characters`);
    if (/[\p{Cc}]/u.test(value)) return bad(`the value at ${path} holds control characters`);
    if (use === 'session') return value;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return bad(`the value at ${path} is not a URL`);
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return bad(`the URL at ${path} is not ws:// or wss://`);
    if (!this.#deps.allowHost(url.hostname)) return bad(`the URL at ${path} is on a host the probe may not connect to`);
    return value;
  }
}

/** Reads a 2xx response's body (at most MAX_RESPONSE_BYTES) as JSON. */
function readBody(
  response: http.IncomingMessage,
  settle: (outcome: { json: unknown } | { failure: UrlProviderFailure }) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  response.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) {
      response.destroy();
      settle({
        failure: { reason: 'bad-response', detail: `the response is larger than ${MAX_RESPONSE_BYTES} bytes` },
      });
      return;
    }
    chunks.push(chunk);
  });
  response.on('error', (error: NodeJS.ErrnoException) =>
    settle({ failure: { reason: 'network', errorCode: errorCodeOf(error) } }),
  );
  response.on('close', () => {
    if (!response.complete) settle({ failure: { reason: 'network', errorCode: 'ECONNRESET' } });
  });
  response.on('end', () => {
    try {
      settle({ json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
    } catch {
      settle({ failure: { reason: 'bad-response', detail: 'the response is not JSON' } });
    }
  });
}

function errorCodeOf(error: NodeJS.ErrnoException): string {
  return error.code ?? (error.name === 'AbortError' ? 'ABORT_ERR' : 'ERR_NETWORK');
}
