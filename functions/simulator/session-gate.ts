/**
 * A graphql-ws style session gate for the simulator: a connection counts as
 * a session only once the client has sent `{"type":"connection_init"}` and
 * the gate has answered `{"type":"connection_ack"}`. The gate can cap the
 * sessions set up at once, demand a token in the init payload, refuse with an
 * error message (`connection_error`) and a close or with a close alone (the
 * code is configurable: 4429, 4403, 1008…), close a connection that sends no
 * init in time (4408, as graphql-ws does), stay silent, and echo the init
 * payload in its error (as careless servers do) so tests can check the probe
 * keeps echoed secrets out of what it records.
 */
import type { WebSocket } from 'ws';

/** graphql-ws close code for a connection that sent no connection_init in time. */
export const INIT_TIMEOUT_CLOSE_CODE = 4408;
/** graphql-ws close code for a bad token (Forbidden). */
export const FORBIDDEN_CLOSE_CODE = 4403;
/** graphql-ws close code for a second connection_init on one connection. */
const REPEATED_INIT_CLOSE_CODE = 4429;

/** How the gate sets up sessions. */
export interface SessionGateOptions {
  /** Sessions set up at once; a connection_init beyond them is refused. */
  cap?: number;
  /** How an init is refused: a `connection_error` message then the close, or the close alone. */
  refusal: 'error-message' | 'close';
  /** Close code of a refusal over the cap (ws may send 1000–1003, 1007–1014, 3000–4999). */
  closeCode: number;
  /** Seconds to wait for connection_init before closing with 4408. */
  initTimeoutSeconds?: number;
  /** Milliseconds between connection_init and connection_ack. */
  ackDelayMs?: number;
  /** The init payload's `token` must be this; otherwise the init is refused with 4403. */
  token?: string;
  /** Never answer connection_init: the client's ready timeout must end it. */
  silent?: boolean;
  /** Put the init payload into the refusal's error message and close reason. */
  echo?: boolean;
  /** A message sent right after the upgrade, before any init (a greeting or keep-alive the client must ignore). */
  greeting?: string;
}

/** What the gate has seen. */
interface SessionGateStats {
  /** Sessions set up and still open. */
  sessions: number;
  peakSessions: number;
  acked: number;
  /** Refused inits by why: over the cap, a bad token, a repeated init. */
  refused: { cap: number; token: number; repeated: number };
  /** Connections closed for sending no init in time. */
  initTimeouts: number;
}

/** Per-connection state of the gate. */
interface GatedConnection {
  initiated: boolean;
  session: boolean;
  timer?: NodeJS.Timeout;
}

/** A session gate shared by the connections of one server. */
export class SessionGate {
  readonly #options: SessionGateOptions;
  readonly #connections = new Map<WebSocket, GatedConnection>();
  readonly #stats: SessionGateStats = {
    sessions: 0,
    peakSessions: 0,
    acked: 0,
    refused: { cap: 0, token: 0, repeated: 0 },
    initTimeouts: 0,
  };

  constructor(options: SessionGateOptions) {
    this.#options = options;
  }

  /** Puts a freshly upgraded connection behind the gate. */
  attach(ws: WebSocket): void {
    const connection: GatedConnection = { initiated: false, session: false };
    this.#connections.set(ws, connection);
    const { initTimeoutSeconds, greeting } = this.#options;
    if (initTimeoutSeconds !== undefined) {
      connection.timer = setTimeout(() => {
        if (connection.initiated) return;
        this.#stats.initTimeouts += 1;
        ws.close(INIT_TIMEOUT_CLOSE_CODE, 'Connection initialisation timeout');
      }, initTimeoutSeconds * 1000);
    }
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) this.#onMessage(ws, connection, data.toString('utf8'));
    });
    ws.on('close', () => this.#onClose(ws, connection));
    if (greeting !== undefined) ws.send(greeting);
  }

  /** A snapshot of the counters. */
  stats(): SessionGateStats {
    return { ...this.#stats, refused: { ...this.#stats.refused } };
  }

  /** Clears every timer (the server is stopping). */
  stop(): void {
    for (const connection of this.#connections.values()) clearTimeout(connection.timer);
    this.#connections.clear();
  }

  #onMessage(ws: WebSocket, connection: GatedConnection, text: string): void {
    const message = parseMessage(text);
    if (message?.type !== 'connection_init') return;
    if (connection.initiated) {
      this.#stats.refused.repeated += 1;
      ws.close(REPEATED_INIT_CLOSE_CODE, 'Too many initialisation requests');
      return;
    }
    connection.initiated = true;
    clearTimeout(connection.timer);
    const { token, cap, silent, echo } = this.#options;
    const echoed = echo ? ` ${JSON.stringify(message.payload ?? null)}` : '';
    if (token !== undefined && tokenOf(message.payload) !== token) {
      this.#stats.refused.token += 1;
      this.#refuse(ws, FORBIDDEN_CLOSE_CODE, `Forbidden${echoed}`);
    } else if (cap !== undefined && this.#stats.sessions >= cap) {
      this.#stats.refused.cap += 1;
      this.#refuse(ws, this.#options.closeCode, `Too many sessions${echoed}`);
    } else if (!silent) {
      // The slot is taken at once, so the cap is exact while acks are delayed.
      this.#openSession(connection);
      const ack = (): void => {
        if (ws.readyState === ws.OPEN) ws.send('{"type":"connection_ack"}');
      };
      if (this.#options.ackDelayMs) connection.timer = setTimeout(ack, this.#options.ackDelayMs);
      else ack();
    }
  }

  #openSession(connection: GatedConnection): void {
    connection.session = true;
    this.#stats.acked += 1;
    this.#stats.sessions += 1;
    this.#stats.peakSessions = Math.max(this.#stats.peakSessions, this.#stats.sessions);
  }

  #refuse(ws: WebSocket, code: number, text: string): void {
    if (this.#options.refusal === 'error-message') {
      ws.send(JSON.stringify({ type: 'connection_error', payload: { message: text } }));
    }
    ws.close(code, closeReason(text));
  }

  #onClose(ws: WebSocket, connection: GatedConnection): void {
    clearTimeout(connection.timer);
    this.#connections.delete(ws);
    if (connection.session) this.#stats.sessions -= 1;
  }
}

/** `text` cut to the 123 bytes a close reason may hold, at a character boundary. */
function closeReason(text: string): string {
  let reason = text;
  while (Buffer.byteLength(reason) > 123) reason = reason.slice(0, -1);
  return reason;
}

function parseMessage(text: string): { type?: unknown; payload?: unknown } | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function tokenOf(payload: unknown): unknown {
  return typeof payload === 'object' && payload !== null ? (payload as { token?: unknown }).token : undefined;
}
