/**
 * Refusals that come only after a wait. Some proxies hold an upgrade over
 * their cap in a queue for a few seconds and then answer 503; a queueing
 * gateway never answers and the handshake times out. An attempt must hold
 * long enough after its last upgrade for those late refusals to arrive, or
 * it would cancel them and see no refusal at all. When every refusal at
 * every rate came only after such a wait, much longer than any handshake
 * that opened, the cap has a queue in front of it, and how long it held the
 * upgrades is part of the evidence. Pure: observations in, seconds out.
 */
import type { AttemptObservation } from './attempt-observation.js';

/** Hold after an attempt's last upgrade when refusals come at once. */
export const SETTLE_SECONDS = 0.5;
/** Margin past the slowest refusal, or the handshake timeout, that an attempt holds. */
const SETTLE_MARGIN_SECONDS = 0.25;
/** A refusal waited in a queue when it took at least this long… */
const MIN_QUEUE_SECONDS = 0.25;
/** …and this many times as long as the slowest handshake that opened. */
const QUEUE_OVER_OPEN_FACTOR = 3;

/**
 * Seconds an attempt holds after its last upgrade so the refusals the ramp
 * saw come back: the handshake timeout for unanswered upgrades, else a
 * quarter more than the slowest refusal took (at least SETTLE_SECONDS), never
 * past the handshake timeout.
 */
export function settleSecondsFor(
  ramp: Pick<AttemptObservation, 'unanswered' | 'refusalSeconds'>,
  handshakeTimeoutSeconds: number,
): number {
  const timeout = handshakeTimeoutSeconds + SETTLE_MARGIN_SECONDS;
  if (ramp.unanswered) return timeout;
  const slowest = ramp.refusalSeconds?.max ?? 0;
  return Math.min(timeout, Math.max(SETTLE_SECONDS, slowest * 1.25 + SETTLE_MARGIN_SECONDS));
}

/**
 * How long the target held refused upgrades before it answered, when every
 * refusal of every refusing attempt (answered with an HTTP status) came only
 * after a wait: the median of the attempts' medians, in seconds; null when
 * any refusal came at once or went unanswered.
 */
export function queueSecondsOf(observations: readonly AttemptObservation[]): number | null {
  const refusing = observations.filter((o) => o.refused > 0);
  if (refusing.length === 0) return null;
  const queued = refusing.every(
    (o) =>
      !o.unanswered &&
      !o.byClass['handshake-timeout'] &&
      o.refusalSeconds !== null &&
      o.refusalSeconds.min >= Math.max(MIN_QUEUE_SECONDS, QUEUE_OVER_OPEN_FACTOR * (o.slowestOpenSeconds ?? 0)),
  );
  if (!queued) return null;
  const medians = refusing.map((o) => o.refusalSeconds?.median ?? 0).sort((a, b) => a - b);
  return Math.round((medians[Math.floor((medians.length - 1) / 2)] ?? 0) * 10) / 10;
}

/** The evidence note of a queue: how long the refused upgrades waited, shortest to longest. */
export function describeQueueWait(observations: readonly AttemptObservation[]): string {
  const waits = observations.flatMap((o) => (o.refused > 0 && o.refusalSeconds ? [o.refusalSeconds] : []));
  const min = Math.min(...waits.map((wait) => wait.min));
  const max = Math.max(...waits.map((wait) => wait.max));
  return (
    `Every refused upgrade waited ${min.toFixed(2)}–${max.toFixed(2)} s for its answer, at every rate, while ` +
    'the handshakes that opened took far less: the gateway queues upgrades over its cap, then refuses them.'
  );
}
