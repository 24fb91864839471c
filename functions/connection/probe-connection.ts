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
 * What each connection opens comes from the shard's recipe
 * (connection-recipe.ts): the same URL and headers for all, made once, or
 * made per attempt (templates, a URL provider's call, SigV4 signing, a source
 * address); a set-up that fails is `session-setup`. With a session to set up
 * (`--ready-when`), the init messages go out at the 101 and the connection
 * counts as open only once the ready message arrives: an error message, a
 * close or the ready timeout first is `session-rejected`, with the close code
 * and a secret-free excerpt, and the probe closes what the server left open.
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
import { SessionHandshake, type SessionState } from '../engine/session-handshake.js';
import { readyTest, type ReadyMatcher } from '../engine/session-settings.js';
import type { ClosedBy, ConnectionRecord, HandshakeOutcome, HeartbeatSettings } from '../engine/types.js';
import {
  fixedConnection,
  prepareConnection,
  type ConnectionRecipe,
  type Preparation,
  type PreparedConnection,
} from './connection-recipe.js';

/** Close code and reason the probe uses when it ends a connection itself. */
const PROBE_CLOSE_CODE = 1000;
const PROBE_CLOSE_REASON = 'ws-ceiling probe finished';
/** Close code of a close frame without a status code (RFC 6455 §7.1.5): ws closes with none then. */
const NO_STATUS_CODE = 1005;
/** How long the probe waits for the server's close after an error message rejected a session, for its close code. */
const REJECTED_SESSION_CLOSE_GRACE_MS = 500;
/** Nothing to send, nothing to keep out of excerpts. */
const NONE: readonly string[] = [];

/**
 * How long a closing handshake may take, whoever started it, before the
 * socket is destroyed: ws's `closeTimeout` for every probe socket, and the
 * shard runner's grace for its own closes at the end.
 */
export const CLOSE_HANDSHAKE_TIMEOUT_MS = 3000;

/** The session each connection waits for after its upgrade before it counts as open. */
export interface GroupSession {
  readyWhen: ReadyMatcher;
  readyTimeoutMs: number;
}

/** What the connections of one shard share. */
export interface ConnectionGroupOptions {
  /** What each connection is opened with: URL, headers, init messages and local address (connection-recipe.ts). */
  recipe: ConnectionRecipe;
  subprotocols: string[];
  handshakeTimeoutMs: number;
  heartbeat: HeartbeatSettings;
  /** The ready message each connection waits for (`--ready-when`); absent: a connection is open at its 101. */
  session?: GroupSession;
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
  readonly readyDeadlines: DeadlineQueue;
  readonly rejectedSessionCloses: DeadlineQueue;
  /** The connection every attempt opens, when nothing in the recipe varies (made once). */
  readonly fixed: PreparedConnection | undefined;
  /** The compiled ready test, shared by every connection of the group. */
  readonly isReady: ((message: string) => boolean) | undefined;
  readonly heartbeatIntervalMs: number;
  readonly pongTimeoutMs: number;
  #live = 0;
  readonly #allEndedWaiters: (() => void)[] = [];

  constructor(readonly options: ConnectionGroupOptions) {
    const { heartbeat, now } = options;
    this.fixed = fixedConnection(options.recipe);
    this.isReady = options.session ? readyTest(options.session.readyWhen) : undefined;
    this.heartbeatIntervalMs = heartbeat.kind === 'off' ? 0 : heartbeat.intervalSeconds * 1000;
    this.pongTimeoutMs = heartbeat.kind === 'ping' ? heartbeat.pongTimeoutSeconds * 1000 : 0;
    this.handshakeDeadlines = new DeadlineQueue(now, (connection) => connection.handshakeDeadlinePassed());
    this.heartbeatsDue = new DeadlineQueue(now, (connection) => connection.heartbeatDue());
    this.pongsDue = new DeadlineQueue(now, (connection, ping) => connection.pongDue(ping));
    this.readyDeadlines = new DeadlineQueue(now, (connection) => connection.readyDeadlinePassed());
    this.rejectedSessionCloses = new DeadlineQueue(now, (connection) => connection.closeRejectedSession());
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
    this.readyDeadlines.clear();
    this.rejectedSessionCloses.clear();
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
  /** When the probe claimed the connection to close it (see #claimForProbe). */
  #probeClosingAt: number | undefined;
  /** The close frame the server started closing with, until the record is written at the end of this tick. */
  #serverClosing: { at: number; code: number; reason: string; protocolError?: string } | undefined;
  /** When the upgrade request went out (after any session set-up). */
  #upgradeAt = 0;
  /** The init messages to send at the 101, then none. */
  #initMessages: readonly string[] = NONE;
  /** What this connection sent that is secret, kept out of excerpts until its session settles, then none. */
  #secrets: readonly string[] = NONE;
  /** The session handshake, from the 101 until the session is ready or rejected. */
  #session: SessionHandshake | undefined;
  /** Cancels the session set-up (a URL provider's call) while it runs. */
  #preparing: AbortController | undefined;
  /** The probe cancelled the attempt while its session was being set up. */
  #cancelled = false;
  /** Protocol pings sent, numbered from 0 (each ping carries its number). */
  #pingsSent = 0;
  /** How many of the oldest pings have been answered: the oldest unanswered ping is number #pingsAnswered. */
  #pingsAnswered = 0;

  constructor(group: Group, id: number, stage: number) {
    this.#group = group;
    const { options } = group;
    const attemptedAt = options.now();
    this.record = { shard: options.shard, id, stage, attemptedAt, outcome: 'cancelled', settledAt: attemptedAt };
    if (group.fixed) {
      this.#start(group.fixed, attemptedAt);
      return;
    }
    const preparing = new AbortController();
    const prepared = prepareConnection(options.recipe, id, options.shard, preparing.signal);
    if (!(prepared instanceof Promise)) {
      this.#afterPreparation(prepared, attemptedAt);
      return;
    }
    this.#preparing = preparing;
    void prepared.then((ready) => {
      this.#preparing = undefined;
      const upgradeAt = options.now();
      this.record.setupMs = upgradeAt - attemptedAt;
      this.#afterPreparation(ready, upgradeAt);
    });
  }

  closeByProbe(): void {
    const socket = this.#socket;
    if (!socket) {
      this.#cancelPreparation();
      return;
    }
    if (!this.#claimForProbe(socket)) return;
    if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
    else socket.close(PROBE_CLOSE_CODE, PROBE_CLOSE_REASON);
  }

  terminateByProbe(): void {
    const socket = this.#socket;
    if (!socket) {
      this.#cancelPreparation();
      return;
    }
    this.#claimForProbe(socket);
    socket.terminate();
  }

  /** The group's handshake deadline for this connection has passed (its ready deadline applies once upgraded). */
  handshakeDeadlinePassed(): void {
    if (this.#settled || this.#session) return;
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

  /** The group's ready deadline for this connection has passed: its session is rejected if it is still not ready. */
  readyDeadlinePassed(): void {
    const session = this.#session;
    if (session) this.#onSessionState(session.deadlinePassed(this.#group.options.now()));
  }

  /** An error message rejected the session a while ago, and the server has not closed: the probe closes it. */
  closeRejectedSession(): void {
    if (this.#socket?.readyState === WebSocket.OPEN) this.closeByProbe();
  }

  /** The probe stops an attempt whose session is still being set up: the attempt is cancelled once the set-up ends. */
  #cancelPreparation(): void {
    if (!this.#preparing) return;
    this.#cancelled = true;
    this.#preparing.abort();
  }

  /** The session set-up is over at `at`: open the connection, or record why it could not be set up. */
  #afterPreparation(prepared: Preparation, at: number): void {
    if (this.#cancelled) {
      this.#settle('cancelled', {});
      this.#end();
    } else if (!prepared.ok) {
      this.#settle('session-setup', { setup: prepared.failure });
      this.#end();
    } else this.#start(prepared.connection, at);
  }

  /** Opens the prepared connection: its upgrade request goes out at `at` (now), with its handshake deadline. */
  #start(connection: PreparedConnection, at: number): void {
    const { options } = this.#group;
    this.#upgradeAt = at;
    this.#initMessages = connection.initMessages;
    if (options.session) this.#secrets = connection.secrets;
    try {
      this.#socket = this.#connect(connection);
      this.#group.handshakeDeadlines.push(this.#upgradeAt + options.handshakeTimeoutMs, this);
    } catch (error) {
      this.#settleFailure('connect-error', error);
      this.#end();
    }
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
    this.#probeClosingAt = this.#group.options.now();
    return true;
  }

  #connect(connection: PreparedConnection): ProbeSocket {
    const { options } = this.#group;
    // ws 8 takes closeTimeout (see initAsClient in ws/lib/websocket.js); @types/ws does not list it yet.
    const socketOptions: WebSocket.ClientOptions & { closeTimeout: number } = {
      headers: connection.headers,
      perMessageDeflate: false,
      followRedirects: false,
      closeTimeout: CLOSE_HANDSHAKE_TIMEOUT_MS,
      createConnection: ((wsOptions: StreamTarget) =>
        this.#openStream(wsOptions, connection)) as unknown as typeof net.createConnection,
    };
    return new ProbeSocket(this, connection.url, options.subprotocols, socketOptions);
  }

  /**
   * Opens the TCP (or TLS) stream ws asked for and notes when it connects.
   * Only the address goes to net/tls: net.Socket copies the options it gets
   * and adds to the copy, and with ws's two dozen options that copy made
   * some 2.5 KB more garbage per handshake (V8's sampling heap profiler).
   * The stream leaves from the connection's source address, when it has one
   * (`--source-address`).
   */
  #openStream({ host = '', port }: StreamTarget, { url, localAddress }: PreparedConnection): net.Socket {
    const { options } = this.#group;
    const secure = url.startsWith('wss:');
    const address = { host, port: Number(port), ...(localAddress !== undefined ? { localAddress } : {}) };
    const stream = secure ? tls.connect({ ...address, servername: net.isIP(host) ? '' : host }) : net.connect(address);
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
        if (this.#settled || this.#session) this.#onErrorAfterOpen(args[0]);
        else this.#settleFailure('connect-error', args[0]);
        return true;
      case 'message':
        this.#onInbound();
        if (this.#session && args[1] === false) this.#onSessionMessage(args[0]);
        return true;
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

  /**
   * The 101: the init messages go out, and the connection is open, or with
   * a session to wait for, its ready deadline starts.
   */
  #onOpen(): void {
    const group = this.#group;
    const openedAt = group.options.now();
    this.#lastInboundAt = openedAt;
    this.#lastOutboundAt = openedAt;
    for (const message of this.#initMessages) this.#socket?.send(message);
    this.#initMessages = NONE;
    const { session } = group.options;
    if (!session || !group.isReady) {
      this.#settleOpened({});
      return;
    }
    this.record.handshakeMs = openedAt - this.#upgradeAt;
    this.#session = new SessionHandshake({
      readyTimeoutMs: session.readyTimeoutMs,
      secrets: this.#secrets,
      isReady: group.isReady,
    });
    this.#session.opened(openedAt);
    group.readyDeadlines.push(this.#session.readyBy, this);
  }

  /** The connection counts as open from now: its heartbeat starts. */
  #settleOpened(details: Partial<ConnectionRecord>): void {
    const group = this.#group;
    this.#settle('opened', details);
    if (group.heartbeatIntervalMs > 0)
      group.heartbeatsDue.push(this.record.settledAt + group.heartbeatIntervalMs, this);
  }

  /** A text message while the session is being set up. */
  #onSessionMessage(data: unknown): void {
    const text = Array.isArray(data) ? Buffer.concat(data as Buffer[]).toString() : String(data);
    this.#onSessionState(this.#session?.message(text, this.#group.options.now()) ?? { kind: 'waiting' });
  }

  /**
   * Where the session stands now. Ready: the connection is open. Rejected:
   * recorded as `session-rejected`; after an error message the probe waits
   * a moment for the server's close (and its code), after a ready timeout it
   * closes at once, and a server that closed needs nothing more.
   */
  #onSessionState(state: SessionState): void {
    if (state.kind === 'waiting') return;
    this.#session = undefined;
    this.#secrets = NONE;
    if (state.kind === 'ready') {
      this.#settleOpened({ readyMs: state.readyMs });
      return;
    }
    this.#settle('session-rejected', { session: state.rejection });
    if (state.rejection.reason === 'ready-timeout') this.closeByProbe();
    else if (state.rejection.reason === 'error-message') {
      this.#group.rejectedSessionCloses.push(this.#group.options.now() + REJECTED_SESSION_CLOSE_GRACE_MS, this);
    }
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
    if (this.#closedBy !== 'server') return;
    const at = this.#group.options.now();
    const reason = data === undefined ? '' : String(data);
    if (this.#session) {
      this.#onSessionState(this.#session.closed(code ?? NO_STATUS_CODE, reason, at));
      return;
    }
    const { session } = this.record;
    if (session) {
      // The close after an error message that rejected the session: its code is evidence too.
      if (session.closeCode === undefined) this.record.session = { ...session, closeCode: code ?? NO_STATUS_CODE };
      return;
    }
    if (this.#serverClosing || this.record.close) return;
    this.#serverClosing = { at, code: code ?? NO_STATUS_CODE, reason };
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
    const session = this.#session;
    this.#session = undefined;
    if (session && this.#closedBy === 'server') {
      this.#onSessionState(session.closed(code, reason, this.#group.options.now()));
    }
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
      ...(this.#closedBy === 'probe' && this.#probeClosingAt !== undefined
        ? { probeClosingAt: this.#probeClosingAt }
        : {}),
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
    if (outcome === 'rejected' || (outcome === 'opened' && this.record.handshakeMs === undefined)) {
      this.record.handshakeMs = settledAt - this.#upgradeAt;
    }
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
