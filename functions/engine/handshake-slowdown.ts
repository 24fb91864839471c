/**
 * When a failing stage's handshakes slowed enough to name: the one rule the
 * stored summary of a degradation and the report's headline both apply.
 */
import type { HandshakeP95 } from './types.js';

/** Handshake p95 at least this many times the first stage's counts as a slowdown worth naming. */
const SLOWDOWN_FACTOR = 2;

/**
 * The handshake p95 of the first and the failing stage when the failing
 * stage's handshakes were at least SLOWDOWN_FACTOR times slower; undefined
 * otherwise.
 */
export function handshakeSlowdown(p95: HandshakeP95 | undefined): { first: number; failing: number } | undefined {
  if (!p95) return undefined;
  const { first, failing } = p95;
  if (first === null || failing === null || first <= 0 || failing < first * SLOWDOWN_FACTOR) return undefined;
  return { first, failing };
}
