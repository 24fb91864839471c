/**
 * How a connection that needs a session failed before it counted as open,
 * as records keep it and counts name it: its session set-up failed before
 * the upgrade (`session-setup`: the URL provider's call, or signing the URL)
 * or its session was rejected after the upgrade (`session-rejected`: an error
 * message, a close, or no ready message in time). Both are kept in fixed
 * words and codes, or with a secret-free excerpt (session-handshake.ts),
 * never with anything else the server or the provider sent.
 */
import type { SessionRejection } from './session-handshake.js';

/** Why a URL provider's call gave no usable value, in words that quote nothing from its response. */
export type UrlProviderFailure =
  | { reason: 'status'; status: number; retryAfter?: string }
  | { reason: 'timeout' }
  | { reason: 'network'; errorCode: string }
  | { reason: 'bad-response'; detail: string };

/** Why a connection could not be made before its upgrade: the URL provider failed, or the URL could not be signed. */
export type SessionSetupFailure = UrlProviderFailure | { reason: 'signing'; errorName: string };

/**
 * The key a session set-up failure is counted under: `HTTP 429`, `timeout`, `ECONNREFUSED`, `bad response` or
 * `signing`.
 */
export function setupFailureKey(failure: SessionSetupFailure): string {
  switch (failure.reason) {
    case 'status':
      return `HTTP ${failure.status}`;
    case 'timeout':
      return 'timeout';
    case 'network':
      return failure.errorCode;
    case 'bad-response':
      return 'bad response';
    case 'signing':
      return 'signing';
  }
}

/** The key a session rejection is counted under: `close 4429`, `error message` or `ready timeout`. */
export function rejectionKey(rejection: Pick<SessionRejection, 'reason' | 'closeCode'>): string {
  if (rejection.closeCode !== undefined) return `close ${rejection.closeCode}`;
  return rejection.reason === 'ready-timeout' ? 'ready timeout' : 'error message';
}
