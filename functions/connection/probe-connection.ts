/**
 * One probe connection from attempt to close, recorded as a ConnectionRecord:
 * when TCP connected, how the opening handshake settled (opened, refused with
 * a status and Retry-After, connect error, handshake timeout), its heartbeat
 * (protocol ping with a pong timeout, or an application message), and how it
 * closed: code, reason, close frame or not, who closed it, its age and idle time.
 */
import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';
import { HANDSHAKE_PROTOCOL_ERROR } from '../engine/classify.js';
import type { ClosedBy, ConnectionRecord, HandshakeOutcome, HeartbeatSettings } from '../engine/types.js';

/** Close code and reason the probe uses when it ends a connection itself. */
export const PROBE_CLOSE_CODE = 1000;
const PROBE_CLOSE_REASON = 'ws-ceiling probe finished';

/** What one connection needs to know. */
export interface ConnectionOptions {
  url: string;
  headers: Record<string, string>;
  subprotocols: string[];
  handshakeTimeoutMs: number;
  heartbeat: HeartbeatSettings;
  shard: number;
  id: number;
  stage: number;
  now: () => number;
  /** Called once when the handshake outcome is known. */
  onSettled: (record: ConnectionRecord) => void;
  /** Called once when an opened connection has closed. */
  onClosed: (record: ConnectionRecord) => void;
}

/** A live probe connection. */
export interface ProbeConnection {
  readonly record: ConnectionRecord;
  /** Resolves when the connection is over: handshake failed, or it opened and then closed. */
  readonly ended: Promise<void>;
  /** Ends the connection as the probe: close 1000 if open, cancel if still connecting. Never a drop. */
  closeByProbe(): void;
  /** Destroys the socket at once as the probe (after closeByProbe timed out). Never a drop. */
  terminateByProbe(): void;
}

/** Starts one connection attempt. Never throws: failures are recorded. */
export function openProbeConnection(options: ConnectionOptions): ProbeConnection {
  return new RecordedConnection(options);
}

class RecordedConnection implements ProbeConnection {
  readonly record: ConnectionRecord;
  readonly ended: Promise<void>;
  #endedResolve!: () => void;
  #socket: WebSocket | undefined;
  #settled = false;
  #closedBy: ClosedBy = 'server';
  #lastInboundAt = 0;
  #lastOutboundAt = 0;
  #handshakeTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #pongTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ConnectionOptions) {
    const attemptedAt = options.now();
    this.record = { shard: options.shard, id: options.id, stage: options.stage, attemptedAt, outcome: 'cancelled', settledAt: attemptedAt };
    this.ended = new Promise((resolve) => (this.#endedResolve = resolve));
    try {
      this.#socket = this.#connect();
    } catch (error) {
      this.#settleFailure('connect-error', error);
      this.#end();
    }
  }

  closeByProbe(): void {
    this.#closedBy = 'probe';
    const socket = this.#socket;
    if (!socket) return;
    if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
    else if (socket.readyState === WebSocket.OPEN) socket.close(PROBE_CLOSE_CODE, PROBE_CLOSE_REASON);
  }

  terminateByProbe(): void {
    this.#closedBy = 'probe';
    this.#socket?.terminate();
  }

  #connect(): WebSocket {
    const { options } = this;
    const secure = options.url.startsWith('wss:');
    const socket = new WebSocket(options.url, options.subprotocols, {
      headers: options.headers,
      perMessageDeflate: false,
      followRedirects: false,
      createConnection: ((connectOptions: net.NetConnectOpts & tls.ConnectionOptions) => {
        const stream = connectStream(connectOptions, secure);
        stream.once(secure ? 'secureConnect' : 'connect', () => (this.record.tcpConnectedAt = options.now()));
        return stream;
      }) as unknown as typeof net.createConnection,
    });
    this.#handshakeTimer = setTimeout(() => this.#onHandshakeTimeout(), options.handshakeTimeoutMs);
    socket.on('unexpected-response', (request, response) => {
      const retryAfter = response.headers['retry-after'];
      this.#settle('rejected', {
        status: response.statusCode ?? 0,
        ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
      });
      response.resume();
      request.destroy();
      socket.terminate();
    });
    socket.on('open', () => this.#onOpen());
    socket.on('error', (error) => this.#settleFailure('connect-error', error));
    socket.on('message', () => (this.#lastInboundAt = options.now()));
    socket.on('ping', () => (this.#lastInboundAt = options.now()));
    socket.on('pong', () => {
      this.#lastInboundAt = options.now();
      clearTimeout(this.#pongTimer);
    });
    socket.on('close', (code, reason) => this.#onClose(code, reason.toString()));
    return socket;
  }

  #onHandshakeTimeout(): void {
    if (this.#settled) return;
    // libuv timers run on a cached loop time and can fire a fraction of a
    // millisecond early by this clock; never record a timeout shorter than set.
    const remainingMs = this.record.attemptedAt + this.options.handshakeTimeoutMs - this.options.now();
    if (remainingMs > 0) {
      this.#handshakeTimer = setTimeout(() => this.#onHandshakeTimeout(), Math.ceil(remainingMs));
      return;
    }
    if (this.record.tcpConnectedAt !== undefined) this.#settle('handshake-timeout', {});
    else this.#settle('connect-error', { errorCode: 'ETIMEDOUT', errorMessage: 'TCP connect timed out' });
    this.#socket?.terminate();
  }

  #onOpen(): void {
    const openedAt = this.options.now();
    this.#lastInboundAt = openedAt;
    this.#lastOutboundAt = openedAt;
    this.#settle('opened', {});
    this.#startHeartbeat();
  }

  #onClose(code: number, reason: string): void {
    if (!this.#settled) this.#settle('cancelled', {});
    if (this.record.outcome === 'opened') {
      const at = this.options.now();
      this.record.close = {
        at,
        code,
        reason,
        frameReceived: code !== 1006,
        closedBy: this.#closedBy,
        ageMs: at - this.record.settledAt,
        sinceInboundMs: at - this.#lastInboundAt,
        sinceOutboundMs: at - this.#lastOutboundAt,
      };
      this.#stopTimers();
      this.options.onClosed(this.record);
    }
    this.#end();
  }

  #startHeartbeat(): void {
    const { heartbeat } = this.options;
    if (heartbeat.kind === 'off') return;
    this.#heartbeatTimer = setInterval(() => {
      const socket = this.#socket;
      if (!socket || socket.readyState !== WebSocket.OPEN) return;
      this.#lastOutboundAt = this.options.now();
      if (heartbeat.kind === 'message') {
        socket.send(heartbeat.payload);
        return;
      }
      socket.ping();
      clearTimeout(this.#pongTimer);
      this.#pongTimer = setTimeout(() => {
        this.#closedBy = 'pong-timeout';
        socket.terminate();
      }, heartbeat.pongTimeoutSeconds * 1000);
    }, heartbeat.intervalSeconds * 1000);
  }

  #settleFailure(outcome: HandshakeOutcome, error: unknown): void {
    if (this.#settled) return;
    const { code, message } = error as NodeJS.ErrnoException;
    // ws raises its own protocol errors (bad subprotocol, bad accept key) without a code.
    this.#settle(this.#closedBy === 'probe' ? 'cancelled' : outcome, {
      errorCode: code ?? HANDSHAKE_PROTOCOL_ERROR,
      errorMessage: message,
    });
  }

  #settle(outcome: HandshakeOutcome, details: Partial<ConnectionRecord>): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#handshakeTimer);
    const settledAt = this.options.now();
    Object.assign(this.record, details, { outcome, settledAt });
    if (outcome === 'opened' || outcome === 'rejected') this.record.handshakeMs = settledAt - this.record.attemptedAt;
    if (outcome === 'cancelled') {
      delete this.record.errorCode;
      delete this.record.errorMessage;
    }
    this.options.onSettled(this.record);
  }

  #stopTimers(): void {
    clearTimeout(this.#handshakeTimer);
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#pongTimer);
  }

  #end(): void {
    this.#stopTimers();
    this.#endedResolve();
  }
}

/** Opens the TCP (or TLS) stream the way ws itself would, so the connect moment can be observed. */
function connectStream(options: net.NetConnectOpts & tls.ConnectionOptions, secure: boolean): net.Socket {
  if (!secure) return net.connect({ ...options, path: (options as { socketPath?: string }).socketPath } as net.NetConnectOpts);
  const host = (options as { host?: string }).host ?? '';
  const servername = options.servername ?? (net.isIP(host) ? '' : host);
  return tls.connect({ ...options, path: undefined, servername } as tls.ConnectionOptions);
}
