/**
 * The bundled target simulator: a WebSocket server with configurable limits
 * (concurrency cap, handshake rate limit, idle timeout, connection lifetime,
 * degradation under load, blanket rejection, limits kept per client address
 * or header value, a session gate behind the upgrade, a URL provider beside it) that ws-ceiling's tests and the
 * `target` / `run --simulate` commands probe. Every admission decision is
 * made synchronously in the HTTP upgrade handler, so limits are exact under
 * concurrency. It binds to loopback by default.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { answerUpgradeWith, closeAndKeepTcpOpen, sendInvalidFrame, type UpgradeAnswer } from './hostile-answers.js';
import { ScopedAdmission, type AdmissionScope, type ScopedLimitsOptions } from './scoped-admission.js';
import { SessionGate, type SessionGateOptions } from './session-gate.js';
import { UpgradeWindow, type WindowLimit } from './upgrade-window.js';
import {
  startUrlProviderEndpoint,
  type RunningUrlProvider,
  type UrlProviderEndpointOptions,
} from './url-provider-endpoint.js';

/**
 * How upgrades beyond the concurrency cap are answered: a status (at once, or after holding the upgrade
 * `queueSeconds` in a queue that never admits it), a TCP reset, or never.
 */
export type CapResponse =
  | { kind: 'status'; status: number; retryAfterSeconds?: number; queueSeconds?: number }
  | { kind: 'reset' }
  | { kind: 'queue' };

/** The limits the simulator enforces; an empty object accepts everything. */
export interface SimulatorOptions {
  /** Address to bind; default '127.0.0.1'. */
  host?: string;
  /** Port to bind; default 0 (any free port). */
  port?: number;
  /** Concurrency cap: upgrades beyond `limit` open connections are answered per `response`. */
  cap?: { limit: number; response: CapResponse };
  /** Handshake rate limit (token bucket): `perSecond` refill, `burst` bucket size; refused with 429 and Retry-After. */
  rateLimit?: { perSecond: number; burst: number; retryAfterSeconds: number };
  /** Handshake rate limit counted in a fixed or sliding window of `seconds`; refused with 429 and Retry-After. */
  window?: WindowLimit;
  /**
   * Destroys a connection's socket without a close frame after this many seconds with no inbound frame (message, ping
   * or pong from the client).
   */
  idleTimeoutSeconds?: number;
  /**
   * Closes every connection with a close frame `code`/`reason` this many seconds after it opened. `code` must be a code
   * ws may send (1000–1003, 1007–1014, 3000–4999).
   */
  closeAfter?: {
    seconds: number;
    code: number;
    reason?: string;
    /** Send the close frame and keep TCP open, never reading the client's close: a handshake that never completes. */
    keepTcpOpen?: boolean;
  };
  /**
   * Sends a close frame with the reserved code 1004 (a frame the client must reject) this many seconds after a
   * connection opened, and stops reading it, keeping TCP open.
   */
  badFrameAfterSeconds?: number;
  /** Answers every upgrade with a web page (HTTP 200) or with bytes that are not HTTP (see hostile-answers.ts). */
  answer?: UpgradeAnswer;
  /** Answers every upgrade with this HTTP status (e.g. 401, 403, 404) — for config-error tests. */
  rejectAll?: number;
  /**
   * Degrades under load once `open` connections are open: every connection
   * accepted beyond them never answers a ping, and its handshake is answered
   * `handshakeDelayMs` late for each connection open beyond `open` (itself
   * included), so handshake latency rises with the count.
   */
  degradeAfter?: { open: number; handshakeDelayMs: number };
  /**
   * Keeps `cap` (answered with its status) and `rateLimit` per client address or per value of a header instead of
   * for everyone (scoped-admission.ts).
   */
  per?: AdmissionScope;
  /** Puts every connection behind a graphql-ws style session gate: init, ack, a session cap (session-gate.ts). */
  session?: SessionGateOptions;
  /**
   * Starts a URL provider beside the server (url-provider-endpoint.ts, on the same host): every upgrade then needs a
   * `token` query value it handed out, and is refused 401 without one.
   */
  urlProvider?: Omit<UrlProviderEndpointOptions, 'targetUrl' | 'host'>;
}

/** What the simulator has seen since it started. */
interface SimulatorStats {
  /** WebSocket connections open now (including accepted upgrades whose handshake is still completing). */
  open: number;
  /** Highest `open` seen. */
  peakOpen: number;
  /** Upgrades answered 101. */
  accepted: number;
  /** Upgrades refused with an HTTP status, by status, e.g. {"503": 50, "429": 12}. */
  refusedByStatus: Record<string, number>;
  /** Upgrades answered by a TCP reset. */
  reset: number;
  /** Upgrades left unanswered (queue). */
  queued: number;
  /** Sockets destroyed by the idle timer. */
  idleTimeouts: number;
  /** Connections the simulator closed because their lifetime (`closeAfter`) ran out. */
  closedAfterLifetime: number;
  /** Connections accepted beyond `degradeAfter.open`: they never answer a ping. */
  degraded: number;
  /** Close codes of closes the client initiated, e.g. {"1000": 150}. */
  clientCloseCodes: Record<string, number>;
  /** Connections that ended without any close frame from the client and not by the simulator's own doing. */
  abnormalClientCloses: number;
}

/** A started simulator. */
export interface RunningSimulator {
  /** `ws://host:port` to connect to. */
  url: string;
  /** The bound port. */
  port: number;
  /** `http://host:port/sessions`, to POST to for a session URL, with `urlProvider`. */
  urlProviderUrl?: string;
  /** A snapshot of the counters. */
  stats(): SimulatorStats;
  /** Closes everything; resolves when every socket and the server are closed. Idempotent. */
  stop(): Promise<void>;
}

/** Why the simulator itself ended a connection, if it did. */
type SimulatorEnding = 'idle' | 'lifetime' | 'stop' | 'bad-frame';

interface Connection {
  idleTimer?: NodeJS.Timeout;
  lifetimeTimer?: NodeJS.Timeout;
  badFrameTimer?: NodeJS.Timeout;
  endedBy?: SimulatorEnding;
}

interface TokenBucket {
  tokens: number;
  refilledAt: number;
}

/** Mutable state of one simulator instance. */
interface SimulatorState {
  options: SimulatorOptions;
  stats: SimulatorStats;
  bucket: TokenBucket;
  wss: WebSocketServer;
  /** Hands over the connections accepted beyond `degradeAfter.open`: no automatic pong. */
  degradedWss: WebSocketServer;
  /** Handshakes waiting out their `degradeAfter` delay. */
  delayedHandshakes: Set<NodeJS.Timeout>;
  /** The window limit's count, when there is one. */
  window?: UpgradeWindow;
  /** Upgrades over the cap held in the queue until their refusal (`queueSeconds`). */
  heldUpgrades: Set<NodeJS.Timeout>;
  connections: Map<WebSocket, Connection>;
  /** Upgrade sockets not (yet) handed to ws: refused, queued or mid-handshake. */
  rawSockets: Set<Duplex>;
  /** The limits kept per scope, with `per`. */
  admission: ScopedAdmission | undefined;
  /** The session gate, with `session`. */
  gate: SessionGate | undefined;
  /** The URL provider whose tokens every upgrade needs, with `urlProvider`. */
  provider?: RunningUrlProvider;
  stopping: boolean;
}

/** Whether `code` may be sent in a close frame (RFC 6455 §7.4, as ws enforces it): 1000–1003, 1007–1014, 3000–4999. */
export function isSendableCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) &&
    ((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
      (code >= 3000 && code <= 4999))
  );
}

/**
 * Starts a simulator with the given limits on `host:port` (default
 * 127.0.0.1, any free port). Resolves once it is listening.
 */
export async function startTargetSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  if (options.closeAfter && !isSendableCloseCode(options.closeAfter.code)) {
    throw new RangeError(`closeAfter.code ${options.closeAfter.code} cannot be sent in a close frame`);
  }
  const state = createState(options);
  const server = createServer(answerPlainHttp);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => onUpgrade(state, req, socket, head));
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, host, options.port ?? 0);
  const url = `ws://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (options.urlProvider) {
    try {
      state.provider = await startUrlProviderEndpoint({ ...options.urlProvider, targetUrl: url, host });
    } catch (error) {
      await stopSimulator(state, server);
      throw error;
    }
  }
  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    ...(state.provider ? { urlProviderUrl: state.provider.url } : {}),
    stats: () => snapshot(state.stats),
    stop: () => (stopped ??= stopSimulator(state, server)),
  };
}

function createState(options: SimulatorOptions): SimulatorState {
  return {
    options,
    stats: {
      open: 0,
      peakOpen: 0,
      accepted: 0,
      refusedByStatus: {},
      reset: 0,
      queued: 0,
      idleTimeouts: 0,
      closedAfterLifetime: 0,
      degraded: 0,
      clientCloseCodes: {},
      abnormalClientCloses: 0,
    },
    bucket: { tokens: options.rateLimit?.burst ?? 0, refilledAt: performance.now() },
    wss: new WebSocketServer({ noServer: true, perMessageDeflate: false }),
    degradedWss: new WebSocketServer({ noServer: true, perMessageDeflate: false, autoPong: false }),
    delayedHandshakes: new Set(),
    ...(options.window ? { window: new UpgradeWindow(options.window, performance.now()) } : {}),
    heldUpgrades: new Set(),
    connections: new Map(),
    rawSockets: new Set(),
    admission: options.per ? new ScopedAdmission(scopedLimits(options, options.per)) : undefined,
    gate: options.session ? new SessionGate(options.session) : undefined,
    stopping: false,
  };
}

/** The cap (answered with its status) and rate limit, kept per `scope`. */
function scopedLimits(options: SimulatorOptions, scope: AdmissionScope): ScopedLimitsOptions {
  const { cap, rateLimit } = options;
  if (cap && cap.response.kind !== 'status') throw new RangeError('a cap kept per scope is answered with a status');
  return {
    scope,
    ...(cap?.response.kind === 'status' ? { cap: { limit: cap.limit, status: cap.response.status } } : {}),
    ...(rateLimit ? { rateLimit } : {}),
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

/** Plain HTTP requests are not what the simulator is for: 426 Upgrade Required. */
function answerPlainHttp(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(426, { Connection: 'close', 'Content-Length': '0' }).end();
}

/** Decides synchronously, in order: rejectAll → a URL provider's token → rate limit → window → cap → accept. */
function onUpgrade(state: SimulatorState, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => {}); // the client may reset at any time; that is not the simulator's fault
  if (state.stopping || socket.destroyed) {
    socket.destroy();
    return;
  }
  trackRawSocket(state, socket);
  const { rejectAll, rateLimit, cap, answer } = state.options;
  if (answer !== undefined) {
    answerUpgradeWith(socket, answer);
  } else if (rejectAll !== undefined) {
    refuseWithStatus(state, socket, rejectAll);
  } else if (state.provider && !state.provider.isIssued(tokenOf(req))) {
    refuseWithStatus(state, socket, 401);
  } else if (state.admission) {
    const admission = state.admission.admit(req);
    if (!admission.admitted) refuseWithStatus(state, socket, admission.status, admission.retryAfterSeconds);
    else {
      socket.once('close', admission.release);
      accept(state, req, socket, head);
    }
  } else if (rateLimit && !takeToken(state.bucket, rateLimit, performance.now())) {
    refuseWithStatus(state, socket, 429, rateLimit.retryAfterSeconds);
  } else if (refusedByWindow(state, socket)) {
    return;
  } else if (cap && state.stats.open >= cap.limit) {
    refuseOverCap(state, socket, cap.response);
  } else {
    accept(state, req, socket, head);
  }
}

/** The `token` query value of an upgrade request, or '' without one. */
function tokenOf(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'ws://simulator').searchParams.get('token') ?? '';
}

/** Refuses the upgrade with 429 when the window limit is reached; true when it did. */
function refusedByWindow(state: SimulatorState, socket: Duplex): boolean {
  const decision = state.window?.admit(performance.now());
  if (!decision || decision.admitted) return false;
  refuseWithStatus(state, socket, 429, decision.retryAfterSeconds);
  return true;
}

function trackRawSocket(state: SimulatorState, socket: Duplex): void {
  state.rawSockets.add(socket);
  socket.once('close', () => state.rawSockets.delete(socket));
}

/** Refills the bucket for the time elapsed, then takes one token if there is one. */
function takeToken(bucket: TokenBucket, limit: { perSecond: number; burst: number }, now: number): boolean {
  bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.refilledAt) / 1000) * limit.perSecond);
  bucket.refilledAt = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

function refuseOverCap(state: SimulatorState, socket: Duplex, response: CapResponse): void {
  switch (response.kind) {
    case 'status':
      if (response.queueSeconds === undefined)
        refuseWithStatus(state, socket, response.status, response.retryAfterSeconds);
      else holdThenRefuse(state, socket, response, response.queueSeconds);
      return;
    case 'reset':
      state.stats.reset += 1;
      (socket as Duplex & { resetAndDestroy(): void }).resetAndDestroy();
      return;
    case 'queue':
      state.stats.queued += 1; // never answered; stop() destroys it
      return;
  }
}

/** Holds an upgrade over the cap `seconds` in the queue, then refuses it (a slot freed meanwhile does not admit it). */
function holdThenRefuse(
  state: SimulatorState,
  socket: Duplex,
  response: { status: number; retryAfterSeconds?: number },
  seconds: number,
): void {
  const timer = setTimeout(() => {
    state.heldUpgrades.delete(timer);
    if (!socket.destroyed) refuseWithStatus(state, socket, response.status, response.retryAfterSeconds);
  }, seconds * 1000);
  state.heldUpgrades.add(timer);
}

function refuseWithStatus(state: SimulatorState, socket: Duplex, status: number, retryAfterSeconds?: number): void {
  const key = String(status);
  state.stats.refusedByStatus[key] = (state.stats.refusedByStatus[key] ?? 0) + 1;
  const retryAfter = retryAfterSeconds === undefined ? '' : `Retry-After: ${retryAfterSeconds}\r\n`;
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n` +
    `Connection: close\r\nContent-Length: 0\r\n${retryAfter}\r\n`;
  socket.end(head, () => socket.destroy());
}

/**
 * Counts the connection as open before the handshake completes, so the cap
 * is exact; gives the slot back if the handshake never completes. Beyond
 * `degradeAfter.open` the handshake is answered late, by a server that never
 * answers pings.
 */
function accept(state: SimulatorState, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const { stats } = state;
  stats.open += 1;
  stats.peakOpen = Math.max(stats.peakOpen, stats.open);
  let upgraded = false;
  socket.once('close', () => {
    if (!upgraded) stats.open -= 1;
  });
  const degrade = state.options.degradeAfter;
  const beyond = degrade ? stats.open - degrade.open : 0;
  const server = beyond > 0 ? state.degradedWss : state.wss;
  const upgrade = (): void => {
    server.handleUpgrade(req, socket, head, (ws) => {
      upgraded = true;
      state.rawSockets.delete(socket);
      stats.accepted += 1;
      if (beyond > 0) stats.degraded += 1;
      watchConnection(state, ws, socket);
    });
  };
  const delayMs = beyond > 0 && degrade ? beyond * degrade.handshakeDelayMs : 0;
  if (delayMs === 0) {
    upgrade();
    return;
  }
  const timer = setTimeout(() => {
    state.delayedHandshakes.delete(timer);
    if (!state.stopping && !socket.destroyed) upgrade();
  }, delayMs);
  state.delayedHandshakes.add(timer);
}

function watchConnection(state: SimulatorState, ws: WebSocket, socket: Duplex): void {
  const connection: Connection = {};
  state.connections.set(ws, connection);
  armIdleTimer(state, ws, connection);
  armLifetimeTimer(state, ws, connection, socket);
  armBadFrameTimer(state, ws, connection, socket);
  const onInbound = (): void => armIdleTimer(state, ws, connection);
  ws.on('message', onInbound).on('ping', onInbound).on('pong', onInbound);
  ws.on('error', () => {}); // protocol errors end in 'close' (1006 or the code ws sent)
  ws.on('close', (code: number) => onConnectionClosed(state, ws, connection, code));
  state.gate?.attach(ws);
}

function armIdleTimer(state: SimulatorState, ws: WebSocket, connection: Connection): void {
  const seconds = state.options.idleTimeoutSeconds;
  if (seconds === undefined) return;
  clearTimeout(connection.idleTimer);
  connection.idleTimer = setTimeout(() => {
    if (ws.readyState !== WebSocket.OPEN || connection.endedBy !== undefined) return;
    connection.endedBy = 'idle';
    state.stats.idleTimeouts += 1;
    ws.terminate();
  }, seconds * 1000);
}

function armLifetimeTimer(state: SimulatorState, ws: WebSocket, connection: Connection, socket: Duplex): void {
  const closeAfter = state.options.closeAfter;
  if (closeAfter === undefined) return;
  connection.lifetimeTimer = setTimeout(() => {
    if (ws.readyState !== WebSocket.OPEN || connection.endedBy !== undefined) return;
    connection.endedBy = 'lifetime';
    state.stats.closedAfterLifetime += 1;
    if (closeAfter.keepTcpOpen) closeAndKeepTcpOpen(socket, closeAfter.code, closeAfter.reason);
    else ws.close(closeAfter.code, closeAfter.reason);
  }, closeAfter.seconds * 1000);
}

function armBadFrameTimer(state: SimulatorState, ws: WebSocket, connection: Connection, socket: Duplex): void {
  const seconds = state.options.badFrameAfterSeconds;
  if (seconds === undefined) return;
  connection.badFrameTimer = setTimeout(() => {
    if (ws.readyState !== WebSocket.OPEN || connection.endedBy !== undefined) return;
    connection.endedBy = 'bad-frame';
    sendInvalidFrame(socket);
  }, seconds * 1000);
}

function clearTimers(connection: Connection): void {
  clearTimeout(connection.idleTimer);
  clearTimeout(connection.lifetimeTimer);
  clearTimeout(connection.badFrameTimer);
}

/** Frees the slot and, for closes the client caused, records how the client ended it. */
function onConnectionClosed(state: SimulatorState, ws: WebSocket, connection: Connection, code: number): void {
  clearTimers(connection);
  state.connections.delete(ws);
  const { stats } = state;
  stats.open -= 1;
  if (connection.endedBy !== undefined) return;
  if (code === 1006) {
    stats.abnormalClientCloses += 1;
  } else {
    stats.clientCloseCodes[String(code)] = (stats.clientCloseCodes[String(code)] ?? 0) + 1;
  }
}

async function stopSimulator(state: SimulatorState, server: Server): Promise<void> {
  state.stopping = true;
  const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
  const wssClosed = Promise.all(
    [state.wss, state.degradedWss].map((wss) => new Promise<void>((resolve) => wss.close(() => resolve()))),
  );
  for (const timer of [...state.delayedHandshakes, ...state.heldUpgrades]) clearTimeout(timer);
  state.delayedHandshakes.clear();
  state.heldUpgrades.clear();
  state.gate?.stop();
  for (const [ws, connection] of state.connections) {
    clearTimers(connection);
    connection.endedBy = 'stop';
    ws.terminate();
  }
  for (const socket of state.rawSockets) socket.destroy();
  server.closeAllConnections();
  await Promise.all([serverClosed, wssClosed, state.provider?.stop()]);
}

function snapshot(stats: SimulatorStats): SimulatorStats {
  return { ...stats, refusedByStatus: { ...stats.refusedByStatus }, clientCloseCodes: { ...stats.clientCloseCodes } };
}
