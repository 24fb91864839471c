/**
 * The session handshake of one connection, after its upgrade: the probe has
 * sent its init messages and waits for the ready message. Whatever comes
 * first settles it: the ready message (the session is ready, and the
 * connection counts as open from then on), an error message or a close (the
 * session was rejected: `session-rejected`, with the close code and a short,
 * secret-free excerpt), or the ready deadline (rejected as a ready timeout).
 *
 * This is the state machine the connection layer drives with what its socket
 * reports; it holds no socket and no timer. The layer sends the init
 * messages when the upgrade completes, puts `readyBy` on its deadline queue,
 * and closes the connection itself when the session is rejected without a
 * close.
 */
import { secretFreeExcerpt } from './secret-excerpt.js';
import { MESSAGE_CHECK_LENGTH, readyTest, type ReadyMatcher } from './session-settings.js';

/** Why a session was not set up. */
export type SessionRejectionReason =
  /** The server sent an error message (a JSON message whose `type` or `event` names an error) before ready. */
  | 'error-message'
  /** The server closed the connection before ready. */
  | 'closed'
  /** The ready message did not come within the ready timeout. */
  | 'ready-timeout';

/** A rejected session, safe to store: the excerpt holds no secret. */
export interface SessionRejection {
  reason: SessionRejectionReason;
  /** Milliseconds from the upgrade to the rejection. */
  afterMs: number;
  /** Close code, when the server closed the connection (1006 when it went without a close frame). */
  closeCode?: number;
  /** The start of the error message or close reason, secrets and token-like runs redacted. */
  excerpt?: string;
}

/** Where a session handshake stands. */
export type SessionState =
  | { kind: 'waiting' }
  /** `readyMs`: milliseconds from the upgrade to the ready message (0 without `--ready-when`). */
  | { kind: 'ready'; readyMs: number }
  | { kind: 'rejected'; rejection: SessionRejection };

/** What the handshake of one connection waits for. */
export interface SessionHandshakeOptions {
  readyWhen?: ReadyMatcher;
  readyTimeoutMs: number;
  /** What this connection sent that is secret (header values, filled-in templates, init messages): never excerpted. */
  secrets: readonly string[];
  /** The compiled ready test, when many connections share one matcher (see readyTest). */
  isReady?: (message: string) => boolean;
}

/** Whether a message is an error message: a JSON object whose `type` or `event` is a string naming an error. */
export function isErrorMessage(message: string): boolean {
  const start = message.trimStart();
  if (!start.startsWith('{')) return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(start.slice(0, MESSAGE_CHECK_LENGTH));
  } catch {
    return false;
  }
  if (typeof parsed !== 'object' || parsed === null) return false;
  const { type, event } = parsed as { type?: unknown; event?: unknown };
  return [type, event].some((value) => typeof value === 'string' && /error/i.test(value));
}

/** The session handshake of one connection. */
export class SessionHandshake {
  #state: SessionState = { kind: 'waiting' };
  #openedAt = 0;
  readonly #options: SessionHandshakeOptions;
  readonly #isReady: ((message: string) => boolean) | undefined;

  constructor(options: SessionHandshakeOptions) {
    this.#options = options;
    this.#isReady = options.isReady ?? (options.readyWhen ? readyTest(options.readyWhen) : undefined);
  }

  get state(): SessionState {
    return this.#state;
  }

  /**
   * The upgrade completed at `at` and the init messages are sent. Without a ready matcher the session is ready at
   * once; otherwise it waits until the deadline `readyBy` returns.
   */
  opened(at: number): SessionState {
    this.#openedAt = at;
    if (!this.#isReady) this.#state = { kind: 'ready', readyMs: 0 };
    return this.#state;
  }

  /** When the ready message is due, in the caller's clock (epoch milliseconds). */
  get readyBy(): number {
    return this.#openedAt + this.#options.readyTimeoutMs;
  }

  /** A message came at `at`. An error message rejects the session even if it would match the ready test. */
  message(text: string, at: number): SessionState {
    if (this.#state.kind !== 'waiting') return this.#state;
    if (isErrorMessage(text)) return this.#reject({ reason: 'error-message', excerpt: this.#excerpt(text) }, at);
    if (this.#isReady?.(text)) this.#state = { kind: 'ready', readyMs: at - this.#openedAt };
    return this.#state;
  }

  /** The connection closed at `at` with `code` and `reason`. */
  closed(code: number, reason: string, at: number): SessionState {
    if (this.#state.kind !== 'waiting') return this.#state;
    const excerpt = reason === '' ? {} : { excerpt: this.#excerpt(reason) };
    return this.#reject({ reason: 'closed', closeCode: code, ...excerpt }, at);
  }

  /** The connection's ready deadline has passed at `at` (a deadline queue may call this late, never early). */
  deadlinePassed(at: number): SessionState {
    if (this.#state.kind !== 'waiting' || at < this.readyBy) return this.#state;
    return this.#reject({ reason: 'ready-timeout' }, at);
  }

  #reject(rejection: Omit<SessionRejection, 'afterMs'>, at: number): SessionState {
    this.#state = { kind: 'rejected', rejection: { ...rejection, afterMs: at - this.#openedAt } };
    return this.#state;
  }

  #excerpt(text: string): string {
    return secretFreeExcerpt(text, this.#options.secrets);
  }
}
