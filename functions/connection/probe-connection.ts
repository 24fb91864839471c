/**
 * The probe's connections from attempt to close, each recorded as a
 * ConnectionRecord: when TCP connected, how the opening handshake settled
 * (opened, refused with a status and Retry-After, connect error, handshake
 * timeout), its heartbeat (protocol ping with a pong timeout, or an
 * application message), and how it closed: code, reason, close frame or not,
 * who closed it, its age and idle time.
 *
 * A connection is over, for the record, when the server's close frame
 * arrives (or a frame ws rejects as a protocol error): that is when its close
 * is recorded, with the server's code, and its heartbeat stops. ws answers
 * the close and waits for the server to end TCP; a server that never does is
 * let go after {@link CLOSE_HANDSHAKE_TIMEOUT_MS} (ws's own default is 30 s).
 *
 * A shard opens its connections through one ConnectionGroup, which holds what
 * they share: the settings, the callbacks, and one timer per kind of deadline
 * (handshake timeout, next heartbeat, pong due) instead of timers per
 * connection; sockets hand their events to their connection without listener
 * closures. A held connection costs little more than its ws socket.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';
import { HANDSHAKE_PROTOCOL_ERROR } from '../engine/classify.js';
import type { ClosedBy, ConnectionRecord, HandshakeOutcome, HeartbeatSettings } from '../engine/types.js';

/** Close code and reason the probe uses when it ends a connection itself. */
const PROBE_CLOSE_CODE = 1000;
const PROBE_CLOSE_REASON = 'ws-ceiling probe finished';
/** Close code of a close frame without a status code (RFC 6455 §7.1.5): ws closes with none then. */
const NO_STATUS_CODE = 1005;

/**
 * How long a closing handshake may take, whoever started it, before the
 * socket is destroyed: ws's `closeTimeout` for every probe socket, and the
 * shard runner's grace for its own closes at the end.
 */
export const CLOSE_HANDSHAKE_TIMEOUT_MS = 3000;

/** What the connections of one shard share. */
export interface ConnectionGroupOptions {
  url: string;
  headers: Record<string, string>;
  subprotocols: string[];
  handshakeTimeoutMs: number;
  heartbeat: HeartbeatSettings;
  shard: number;
  /** Epoch milliseconds; must not go backwards. */
  now: () => number;
  /** Called once per connection when its handshake outcome is known. */
  onSettled: (record: ConnectionRecord) => void;
  /** Called once per opened connection when it has closed. */
  onClosed: (record: ConnectionRecord) => void;
}

/** The connections of one shard. */
export interface ConnectionGroup {
  /** Starts one connection attempt. Never throws: failures are recorded. */
  open(id: number, stage: number): ProbeConnection;
  /** Resolves once every connection opened so far is over: its handshake failed, or it opened and then closed. */
  allEnded(): Promise<void>;
}

/** A live probe connection. */
export interface ProbeConnection {
  readonly record: ConnectionRecord;
  /**
   * Ends the connection as the probe: close 1000 if open, cancel if still connecting. Its heartbeat stops; never a
   * drop.
   */
  closeByProbe(): void;
  /** Destroys the socket at once as the probe (after closeByProbe timed out). Never a drop. */
  terminateByProbe(): void;
}

/** Starts a group of connections sharing `options`. */
export function openConnectionGroup(options: ConnectionGroupOptions): ConnectionGroup {
  return new Group(options);
}

class Group implements ConnectionGroup {
  readonly handshakeDeadlines: DeadlineQueue;
  readonly heartbeatsDue: DeadlineQueue;
  readonly pongsDue: DeadlineQueue;
  readonly secure: boolean;
  readonly heartbeatIntervalMs: number;
  readonly pongTimeoutMs: number;
  #live = 0;
  readonly #allEndedWaiters: (() => void)[] = [];

  constructor(readonly options: ConnectionGroupOptions) {
    const { heartbeat, now } = options;
    this.secure = options.url.startsWith('wss:');
    this.heartbeatIntervalMs = heartbeat.kind === 'off' ? 0 : heartbeat.intervalSeconds * 1000;
    this.pongTimeoutMs = heartbeat.kind === 'ping' ? heartbeat.pongTimeoutSeconds * 1000 : 0;
    this.handshakeDeadlines = new DeadlineQueue(now, (connection) => connection.handshakeDeadlinePassed());
    this.heartbeatsDue = new DeadlineQueue(now, (connection) => connection.heartbeatDue());
    this.pongsDue = new DeadlineQueue(now, (connection, ping) => connection.pongDue(ping));
  }

  open(id: number, stage: number): ProbeConnection {
    this.#live += 1;
    return new RecordedConnection(this, id, stage);
  }

  allEnded(): Promise<void> {
    if (this.#live === 0) return Promise.resolve();
    return new Promise((resolve) => this.#allEndedWaiters.push(resolve));
  }

  /** Called once by each connection when it is over. */
  connectionEnded(): void {
    this.#live -= 1;
    if (this.#live > 0) return;
    // Whatever is still queued belongs to connections that are over.
    this.handshakeDeadlines.clear();
    this.heartbeatsDue.clear();
    this.pongsDue.clear();
    this.#allEndedWaiters.splice(0).forEach((resolve) => resolve());
  }
}

/**
 * Deadlines of many connections on one timer. Every deadline a queue gets is
 * the current time plus the same delay, so they arrive in order and the
 * earliest is always at the head. Nothing is taken out early: whoever handles
 * a deadline checks whether it still applies. `tag` is a number carried with
 * the deadline (the ping's number for pong deadlines).
 */
class DeadlineQueue {
  #at: number[] = [];
  #connections: (RecordedConnection | undefined)[] = [];
  #tags: number[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(
    private readonly now: () => number,
    private readonly onDue: (connection: RecordedConnection, tag: number) => void,
  ) {}

  push(at: number, connection: RecordedConnection, tag = 0): void {
    this.#at.push(at);
    this.#connections.push(connection);
    this.#tags.push(tag);
    if (this.#timer === undefined && !this.#running) this.#arm(at);
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = [];
    this.#connections = [];
    this.#tags = [];
    this.#head = 0;
  }

  #arm(at: number): void {
    this.#timer = setTimeout(() => this.#run(), Math.max(0, Math.ceil(at - this.now())));
  }

  #run(): void {
    this.#timer = undefined;
    this.#running = true;
    // libuv timers run on a cached loop time and can fire a fraction of a
    // millisecond early by `now`: nothing is handled before it is due.
    const now = this.now();
    try {
      while (this.#head < this.#at.length && this.#at[this.#head]! <= now) {
        const index = this.#head;
        this.#head += 1;
        const connection = this.#connections[index]!;
        this.#connections[index] = undefined;
        this.onDue(connection, this.#tags[index]!);
      }
    } finally {
      this.#running = false;
      this.#compact();
      const next = this.#at[this.#head];
      if (next !== undefined) this.#arm(next);
    }
  }

  /** Drops handled entries once they are most of the queue. */
  #compact(): void {
    if (this.#head === this.#at.length) this.clear();
    else if (this.#head >= 1024 && this.#head * 2 >= this.#at.length) {
      this.#at.splice(0, this.#head);
      this.#connections.splice(0, this.#head);
      this.#tags.splice(0, this.#head);
      this.#head = 0;
    }
  }
}

/**
 * A ws client socket that hands its events straight to its connection rather
 * than through listeners, so it carries no listener closures and no listener
 * table (seven listeners cost several hundred bytes per held connection).
 * ws emits nothing from its constructor, so `connection` is set before the
 * first event.
 */
class ProbeSocket extends WebSocket {
  constructor(
    readonly connection: RecordedConnection,
    ...args: ConstructorParameters<typeof WebSocket>
  ) {
    super(...args);
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    return this.connection.onSocketEvent(event, args) || super.emit(event, ...args);
  }

  /**
   * ws calls this itself, on an open socket, when the server's close frame
   * arrives (with the server's code and reason, none for 1005) or a frame it
   * rejects (with the code it closes with, 1002 for a protocol error, and an
   * 'error' event right after): the connection is told before ws answers.
   */
  override close(code?: number, data?: string | Buffer): void {
    if (this.readyState === WebSocket.OPEN) this.connection.onClosing(code, data);
    super.close(code, data);
  }
}

class RecordedConnection implements ProbeConnection {
  readonly record: ConnectionRecord;
  readonly #group: Group;
  #socket: ProbeSocket | undefined;
  #settled = false;
  #ended = false;
  /** Who started ending the connection: the server unless the probe or a missed pong did first (see #claimForProbe). */
  #closedBy: ClosedBy = 'server';
  #lastInboundAt = 0;
  #lastOutboundAt = 0;
  /** The close frame the server started closing with, until the record is written at the end of this tick. */
  #serverClosing: { at: number; code: number; reason: string; protocolError?: string } | undefined;
  /** Protocol pings sent, numbered from 0 (each ping carries its number). */
  #pingsSent = 0;
  /** How many of the oldest pings have been answered: the oldest unanswered ping is number #pingsAnswered. */
  #pingsAnswered = 0;

  constructor(group: Group, id: number, stage: number) {
    this.#group = group;
    const { options } = group;
    const attemptedAt = options.now();
    this.record = { shard: options.shard, id, stage, attemptedAt, outcome: 'cancelled', settledAt: attemptedAt };
    try {
      this.#socket = this.#connect();
      group.handshakeDeadlines.push(attemptedAt + options.handshakeTimeoutMs, this);
    } catch (error) {
      this.#settleFailure('connect-error', error);
      this.#end();
    }
  }

  closeByProbe(): void {
    const socket = this.#socket;
    if (!socket || !this.#claimForProbe(socket)) return;
    if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
    else socket.close(PROBE_CLOSE_CODE, PROBE_CLOSE_REASON);
  }

  terminateByProbe(): void {
    const socket = this.#socket;
    if (!socket) return;
    this.#claimForProbe(socket);
    socket.terminate();
  }

  /** The group's handshake deadline for this connection has passed. */
  handshakeDeadlinePassed(): void {
    if (this.#settled) return;
    if (this.record.tcpConnectedAt !== undefined) this.#settle('handshake-timeout', {});
    else this.#settle('connect-error', { errorCode: 'ETIMEDOUT', errorMessage: 'TCP connect timed out' });
    this.#socket?.terminate();
  }

  /** The group's heartbeat interval for this connection has passed: ping or send the message, and queue the next. */
  heartbeatDue(): void {
    const socket = this.#socket;
    if (socket?.readyState !== WebSocket.OPEN) return;
    const group = this.#group;
    const { heartbeat, now } = group.options;
    const sentAt = now();
    this.#lastOutboundAt = sentAt;
    if (heartbeat.kind === 'message') socket.send(heartbeat.payload);
    else {
      const ping = this.#pingsSent;
      this.#pingsSent += 1;
      socket.ping(String(ping));
      group.pongsDue.push(sentAt + group.pongTimeoutMs, this, ping);
    }
    group.heartbeatsDue.push(sentAt + group.heartbeatIntervalMs, this);
  }

  /** Ping number `ping` was sent one pong timeout ago: drop the connection if it is still unanswered. */
  pongDue(ping: number): void {
    const socket = this.#socket;
    if (socket?.readyState !== WebSocket.OPEN || ping < this.#pingsAnswered) return;
    this.#closedBy = 'pong-timeout';
    socket.terminate();
  }

  /**
   * Whoever first starts ending a connection is who closed it: the probe
   * only claims a connection still connecting or open. Once the probe, a
   * missed pong or the server has started closing it (ws says CLOSING), no
   * later event changes that, and heartbeat deadlines no longer apply.
   */
  #claimForProbe(socket: ProbeSocket): boolean {
    if (socket.readyState !== WebSocket.CONNECTING && socket.readyState !== WebSocket.OPEN) return false;
    this.#closedBy = 'probe';
    return true;
  }

  #connect(): ProbeSocket {
    const { options } = this.#group;
    // ws 8 takes closeTimeout (see initAsClient in ws/lib/websocket.js); @types/ws does not list it yet.
    const socketOptions: WebSocket.ClientOptions & { closeTimeout: number } = {
      headers: options.headers,
      perMessageDeflate: false,
      followRedirects: false,
      closeTimeout: CLOSE_HANDSHAKE_TIMEOUT_MS,
      createConnection: ((wsOptions: StreamTarget) =>
        this.#openStream(wsOptions)) as unknown as typeof net.createConnection,
    };
    return new ProbeSocket(this, options.url, options.subprotocols, socketOptions);
  }

  /**
   * Opens the TCP (or TLS) stream ws asked for and notes when it connects.
   * Only the address goes to net/tls: net.Socket copies the options it gets
   * and adds to the copy, and with ws's two dozen options that copy made
   * some 2.5 KB more garbage per handshake (V8's sampling heap profiler).
   */
  #openStream({ host = '', port }: StreamTarget): net.Socket {
    const { options, secure } = this.#group;
    const stream = secure
      ? tls.connect({ host, port: Number(port), servername: net.isIP(host) ? '' : host })
      : net.connect({ host, port: Number(port) });
    stream.once(secure ? 'secureConnect' : 'connect', () => (this.record.tcpConnectedAt = options.now()));
    return stream;
  }

  /**
   * Handles one event of this connection's socket (see ProbeSocket), with
   * ws's arguments for it; false for events the probe does not use.
   */
  onSocketEvent(event: string | symbol, args: unknown[]): boolean {
    switch (event) {
      case 'unexpected-response':
        this.#onRefused(args[0] as ClientRequest, args[1] as IncomingMessage);
        return true;
      case 'open':
        this.#onOpen();
        return true;
      case 'error':
        if (this.#settled) this.#onErrorAfterOpen(args[0]);
        else this.#settleFailure('connect-error', args[0]);
        return true;
      case 'message':
      case 'ping':
        this.#onInbound();
        return true;
      case 'pong':
        this.#onPong(args[0] as Buffer);
        return true;
      case 'close':
        this.#onClose(args[0] as number, String(args[1]));
        return true;
      default:
        return false;
    }
  }

  #onRefused(request: ClientRequest, response: IncomingMessage): void {
    const retryAfter = response.headers['retry-after'];
    this.#settle('rejected', {
      status: response.statusCode ?? 0,
      ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
    });
    response.resume();
    request.destroy();
    this.#socket?.terminate();
  }

  #onOpen(): void {
    const openedAt = this.#group.options.now();
    this.#lastInboundAt = openedAt;
    this.#lastOutboundAt = openedAt;
    this.#settle('opened', {});
    if (this.#group.heartbeatIntervalMs > 0)
      this.#group.heartbeatsDue.push(openedAt + this.#group.heartbeatIntervalMs, this);
  }

  #onInbound(): void {
    this.#lastInboundAt = this.#group.options.now();
  }

  /**
   * A pong echoes its ping's number. A peer may answer only the latest of
   * several pings, which answers every earlier one too; a pong without a
   * number it was sent answers the oldest ping still unanswered.
   */
  #onPong(data: Buffer): void {
    this.#onInbound();
    const echoed = data.length > 0 ? Number(data.toString('latin1')) : Number.NaN;
    if (Number.isInteger(echoed) && echoed >= this.#pingsAnswered && echoed < this.#pingsSent)
      this.#pingsAnswered = echoed + 1;
    else if (this.#pingsAnswered < this.#pingsSent) this.#pingsAnswered += 1;
  }

  /**
   * ws is about to close an open socket the probe did not close: the
   * server's close frame arrived, or a frame ws rejects. The connection is
   * over from now on; its close is recorded at the end of this tick, after
   * the 'error' event ws emits for a rejected frame.
   */
  onClosing(code: number | undefined, data: string | Buffer | undefined): void {
    if (this.#closedBy !== 'server' || this.#serverClosing || this.record.close) return;
    const at = this.#group.options.now();
    this.#serverClosing = { at, code: code ?? NO_STATUS_CODE, reason: data === undefined ? '' : String(data) };
    queueMicrotask(() => this.#recordServerClose());
  }

  /**
   * An error after the handshake. ws's own errors (code `WS_ERR_…`) mean a
   * frame broke the protocol, and ws closes with 1002, 1007 or 1009: that
   * ends the connection as a protocol error with ws's message. Anything else
   * (a write to a socket that is going away) ends in a close event anyway.
   */
  #onErrorAfterOpen(error: unknown): void {
    const { code, message } = error as NodeJS.ErrnoException;
    if (this.#serverClosing && code?.startsWith('WS_ERR_')) {
      this.#serverClosing.protocolError = message;
      this.#serverClosing.reason = '';
    }
  }

  #recordServerClose(): void {
    const closing = this.#serverClosing;
    if (!closing || this.record.close) return;
    const { at, code, reason, protocolError } = closing;
    this.#writeClose(at, code, reason, protocolError === undefined, protocolError);
    // A server that broke the protocol is not waited for (RFC 6455 §7.1.7: fail the connection).
    if (protocolError !== undefined) setImmediate(() => this.#socket?.terminate());
  }

  #onClose(code: number, reason: string): void {
    if (!this.#settled) this.#settle('cancelled', {});
    this.#recordServerClose();
    if (this.record.outcome === 'opened' && !this.record.close) {
      this.#writeClose(this.#group.options.now(), code, reason, code !== 1006);
    }
    this.#end();
  }

  /** Records how the open connection ended, at `at`, and tells the group. */
  #writeClose(at: number, code: number, reason: string, frameReceived: boolean, protocolError?: string): void {
    this.record.close = {
      at,
      code,
      reason,
      frameReceived,
      closedBy: this.#closedBy,
      ageMs: at - this.record.settledAt,
      sinceInboundMs: at - this.#lastInboundAt,
      sinceOutboundMs: at - this.#lastOutboundAt,
      ...(protocolError !== undefined ? { protocolError } : {}),
    };
    this.#group.options.onClosed(this.record);
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
    const settledAt = this.#group.options.now();
    Object.assign(this.record, details, { outcome, settledAt });
    if (outcome === 'opened' || outcome === 'rejected') this.record.handshakeMs = settledAt - this.record.attemptedAt;
    if (outcome === 'cancelled') {
      delete this.record.errorCode;
      delete this.record.errorMessage;
    }
    this.#group.options.onSettled(this.record);
  }

  /** The connection is over: let go of the socket and tell the group (once). */
  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#socket = undefined;
    this.#group.connectionEnded();
  }
}

/** The address ws resolved from the URL, as it hands it to its createConnection (IPv6 without brackets). */
interface StreamTarget {
  host?: string;
  port?: string | number;
}
