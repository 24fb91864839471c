/**
 * Decides what stopped the ramp and gathers its evidence: a probe failure
 * (config error, unreachable, the probe's own limits), a duration limit (idle
 * timeout, maximum lifetime: drops at a consistent age whatever the count),
 * or a capacity limit (concurrency cap, handshake rate limit, server
 * degradation). The summary sentence comes from words/cause-summary.ts.
 * Pure: works on failure events and the timeline.
 */
import type { FailureEvent } from './failures.js';
import { countFailures } from './failures.js';
import { isDegradationCloseCode, probeResourceOf } from './classify.js';
import type { SigV4Settings } from './execute-api.js';
import type { OpenTimeline } from './timeline.js';
import type {
  CloseRecord,
  DurationSpread,
  FailureClass,
  HandshakeP95,
  HeartbeatSettings,
  LimitingFactor,
  LoopDelaySample,
  ShardAbort,
} from './types.js';
import { round } from './units.js';
import { summarizeCause } from './words/cause-summary.js';

/** Event-loop delay p99 (ms) from which the probe's own timing cannot be trusted (the report says so too). */
export const STARVED_LOOP_DELAY_MS = 500;

/** Fewest drops that can establish a duration limit. */
const MIN_DROPS_FOR_DURATION_LIMIT = 3;

/**
 * Failure classes that refuse a new connection (as opposed to dropping an open one): its upgrade, or its session
 * before or after the upgrade.
 */
export const REFUSAL_CLASSES: ReadonlySet<FailureClass> = new Set<FailureClass>([
  'handshake-rejected',
  'handshake-timeout',
  'connect-error',
  'session-rejected',
  'session-setup',
]);
const DROP_CLASSES = new Set<FailureClass>(['abnormal-closure', 'server-close', 'pong-timeout']);

/** A limiting factor with the open count at which it first showed. */
export interface Finding {
  factor: LimitingFactor;
  dropOnset: number | null;
}

/** Where the analysed shards ran, for the fix of the probe's own limits (see probeLimitFix). */
export interface ProbeContext {
  /** The target URL with secrets redacted, for messages. */
  url: string;
  /** True when every shard ran in one process (the local CLI); false for a Lambda worker per shard. */
  shardsShareProcess: boolean;
  /** How the upgrade URLs were signed (`--sigv4`), when they were. */
  sigv4?: SigV4Settings;
}

/**
 * A failure of the probe rather than of the target: the run was aborted
 * (config error, unreachable, out of descriptors or ports, interrupted, or
 * stopped by the resource watch) or the probe's event loop was starved.
 * Undefined when the probe worked.
 */
export function findProbeFailure(
  aborted: ShardAbort | undefined,
  events: readonly FailureEvent[],
  loopDelay: readonly LoopDelaySample[],
  timeline: OpenTimeline,
  probe: ProbeContext,
): Finding | 'interrupted' | undefined {
  const fatalOrder: FailureClass[] = ['config-error', 'unreachable', 'probe-limited'];
  for (const failureClass of fatalOrder) {
    const first = events.find((event) => event.failureClass === failureClass);
    if (first) return probeFinding(failureClass, first, events, timeline, probe);
  }
  if (aborted?.failureClass === 'probe-limited') {
    // Stopped by the resource watch: its message names what ran short, with the fix.
    return {
      dropOnset: null,
      factor: {
        kind: 'probe-limited',
        summary: aborted.message,
        evidence: { failures: countFailures(events), message: aborted.message },
      },
    };
  }
  const starved = loopDelay.filter((sample) => sample.p99Ms >= STARVED_LOOP_DELAY_MS);
  if (starved.length > 0) {
    const worst = Math.max(...starved.map((sample) => sample.maxMs));
    const p99 = Math.max(...starved.map((sample) => sample.p99Ms));
    return {
      dropOnset: null,
      factor: {
        kind: 'probe-limited',
        summary: summarizeCause({
          kind: 'probe-starved',
          p99Ms: p99,
          worstMs: worst,
          starvedMs: STARVED_LOOP_DELAY_MS,
          shardsShareProcess: probe.shardsShareProcess,
        }),
        evidence: { failures: countFailures(events), eventLoopDelayMaxMs: worst },
      },
    };
  }
  if (aborted?.failureClass === 'interrupted') return 'interrupted';
  return refusedBeforeAnyOpened(events, timeline, probe);
}

/**
 * Every upgrade of a run in which nothing ever opened was answered with an
 * HTTP error status (a status that is neither a config error nor a reason to
 * stop at once: 500, 503, 429, …). Nothing was measured, so this is a probe
 * failure, never a cap at 0. Undefined when something opened or nothing was
 * refused.
 */
function refusedBeforeAnyOpened(
  events: readonly FailureEvent[],
  timeline: OpenTimeline,
  probe: ProbeContext,
): Finding | undefined {
  const refused = events.filter((event) => event.failureClass === 'handshake-rejected');
  const first = refused[0];
  if (!first || timeline.openedBetween(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY) > 0) return undefined;
  const failures = countFailures(events);
  return {
    dropOnset: null,
    factor: {
      kind: 'unreachable',
      summary: summarizeCause({ kind: 'refused-before-open', url: probe.url, failures }),
      evidence: { failures, firstFailure: firstFailureOf(first, 0) },
    },
  };
}

/**
 * Drops at a consistent age whatever the open count: an idle timeout (age
 * since the last frame) or a maximum lifetime (age since open). Undefined when
 * the drops do not cluster.
 */
export function findDurationLimit(
  events: readonly FailureEvent[],
  heartbeat: HeartbeatSettings['kind'],
  timeline: OpenTimeline,
): Finding | undefined {
  const drops = events.filter(
    (event) =>
      (event.failureClass === 'abnormal-closure' || event.failureClass === 'server-close') &&
      !isDegradationCloseCode(event.record.close?.code ?? 0),
  );
  if (drops.length < MIN_DROPS_FOR_DURATION_LIMIT || drops.length * 2 < events.length) return undefined;
  const closes = drops.map((event) => event.record.close).filter((close) => close !== undefined);
  const idle = spreadOf(closes.map((close) => Math.min(close.sinceInboundMs, close.sinceOutboundMs) / 1000));
  const age = spreadOf(closes.map((close) => close.ageMs / 1000));
  const first = drops[0] as FailureEvent;
  const dropOnset = timeline.openAt(first.at);
  const failures = countFailures(events);
  // Heartbeats only tell a lifetime from an idle timeout if they went out before the drops.
  const heartbeatsSent = heartbeat !== 'off' && sentHeartbeatsBeforeMostDrops(closes);
  if (isTight(age) && (heartbeatsSent || !isTight(idle))) {
    return {
      dropOnset,
      factor: {
        kind: 'max-lifetime',
        valueSeconds: age.medianSeconds,
        summary: summarizeCause({ kind: 'max-lifetime', failures, drops: drops.length, age, heartbeatsSent }),
        evidence: { failures, firstFailure: firstFailureOf(first, dropOnset), connectionAge: age, idleAge: idle },
      },
    };
  }
  if (!isTight(idle)) return undefined;
  return {
    dropOnset,
    factor: {
      kind: 'idle-timeout',
      valueSeconds: idle.medianSeconds,
      summary: summarizeCause({ kind: 'idle-timeout', failures, drops: drops.length, idle, heartbeat, heartbeatsSent }),
      evidence: { failures, firstFailure: firstFailureOf(first, dropOnset), idleAge: idle, connectionAge: age },
    },
  };
}

/**
 * Whether the probe sent something (a heartbeat) on most of the dropped
 * connections after they opened: with none, the last frame was the opening
 * handshake, and an idle timeout looks exactly like a maximum lifetime.
 */
function sentHeartbeatsBeforeMostDrops(closes: readonly CloseRecord[]): boolean {
  const sent = closes.filter((close) => close.sinceOutboundMs < close.ageMs - 1).length;
  return sent * 2 > closes.length;
}

/**
 * What limited capacity, from the failures of the first failing stage on:
 * refusals that stop the open count (cap), refusals while the count keeps
 * rising (rate limit), or open connections being dropped (degradation).
 */
export function findCapacityLimit(
  limitingEvents: readonly FailureEvent[],
  timeline: OpenTimeline,
  handshakeP95Ms: HandshakeP95,
): Finding | undefined {
  const first = limitingEvents[0];
  if (!first) return undefined;
  const dropOnset = timeline.openAt(first.at);
  const failures = countFailures(limitingEvents);
  const refusals = limitingEvents.filter((event) => REFUSAL_CLASSES.has(event.failureClass));
  const drops = limitingEvents.filter((event) => DROP_CLASSES.has(event.failureClass));
  const evidence = { failures, firstFailure: firstFailureOf(first, dropOnset), handshakeP95Ms };
  if (refusals.length < drops.length) {
    return {
      dropOnset,
      factor: {
        kind: 'server-degradation',
        summary: summarizeCause({ kind: 'server-degradation', failures, onset: dropOnset, handshakeP95Ms }),
        evidence,
      },
    };
  }
  const firstRefusal = refusals[0] as FailureEvent;
  const lastRefusal = refusals[refusals.length - 1] as FailureEvent;
  // Handshakes already in flight when the first refusal came may have been let in before it, their answers arriving
  // later (from another shard, or on another socket): what they add is the count the target refused at, not a rise.
  const inFlightEnd = timeline.inFlightSettledBy(firstRefusal.at);
  const onsetAtRefusal = Math.max(timeline.openAt(firstRefusal.at), timeline.peakBetween(firstRefusal.at, inFlightEnd));
  // Places, not open connections: one another shard got while the probe was closing a connection is no rise.
  const peakAfter = timeline.peakPlacesBetween(inFlightEnd, Number.POSITIVE_INFINITY);
  const onset = first === firstRefusal ? onsetAtRefusal : dropOnset;
  const refusalEvidence = { ...evidence, firstFailure: firstFailureOf(first, onset) };
  const openedAfter = timeline.openedBetween(firstRefusal.at, lastRefusal.at);
  const retryAfter = distinct(refusals.map((event) => retryAfterOf(event.record)));
  if (peakAfter > onsetAtRefusal) {
    const rate = rateLetThrough(openedAfter, lastRefusal.at - firstRefusal.at);
    return {
      dropOnset: onset,
      factor: {
        kind: 'handshake-rate-limit',
        summary: summarizeCause({
          kind: 'handshake-rate-limit',
          failures,
          retryAfter,
          onset: onsetAtRefusal,
          peak: peakAfter,
          perSecond: rate,
        }),
        evidence: {
          ...refusalEvidence,
          ...(retryAfter.length ? { retryAfter } : {}),
          openedAfterFirstRefusal: openedAfter,
          ...(rate !== undefined ? { sustainableHandshakesPerSecond: rate } : {}),
        },
      },
    };
  }
  return {
    dropOnset: onset,
    factor: {
      kind: 'concurrency-cap',
      summary: summarizeCause({ kind: 'concurrency-cap', failures, onset: onsetAtRefusal }),
      evidence: { ...refusalEvidence, ...(retryAfter.length ? { retryAfter } : {}), openedAfterFirstRefusal: 0 },
    },
  };
}

function probeFinding(
  failureClass: FailureClass,
  first: FailureEvent,
  events: readonly FailureEvent[],
  timeline: OpenTimeline,
  probe: ProbeContext,
): Finding {
  const { url } = probe;
  const openCount = timeline.openAt(first.at);
  const failures = countFailures(events);
  const evidence = { failures, firstFailure: firstFailureOf(first, openCount) };
  const { status, errorCode, errorMessage, close, session, setup } = first.record;
  const answer = {
    ...(status !== undefined ? { status } : {}),
    ...(errorCode !== undefined ? { errorCode } : {}),
    ...(errorMessage !== undefined ? { errorMessage } : {}),
  };
  if (failureClass === 'config-error' && close?.protocolError !== undefined) {
    const { protocolError: message, code: closeCode } = close;
    const summary = summarizeCause({ kind: 'protocol-error', url, message, closeCode, openCount });
    return { dropOnset: null, factor: { kind: 'config-error', summary, evidence } };
  }
  if (failureClass === 'config-error' && session) {
    const summary = summarizeCause({ kind: 'session-rejected', url, rejection: session, openCount });
    return { dropOnset: null, factor: { kind: 'config-error', summary, evidence } };
  }
  if (failureClass === 'config-error' && setup) {
    const summary = summarizeCause({ kind: 'session-setup-failed', url, failure: setup, openCount });
    return { dropOnset: null, factor: { kind: 'config-error', summary, evidence } };
  }
  if (failureClass === 'config-error') {
    return {
      dropOnset: null,
      factor: {
        kind: 'config-error',
        summary: summarizeCause({
          kind: 'config-error',
          url,
          ...answer,
          ...(probe.sigv4 ? { sigv4: probe.sigv4 } : {}),
        }),
        evidence,
      },
    };
  }
  if (failureClass === 'unreachable') {
    const unanswered = first.record.outcome === 'handshake-timeout';
    return {
      dropOnset: null,
      factor: {
        kind: 'unreachable',
        summary: summarizeCause({ kind: 'unreachable', url, unanswered, ...answer }),
        evidence,
      },
    };
  }
  const resource = probeResourceOf(errorCode) ?? 'descriptors';
  const { shardsShareProcess } = probe;
  return {
    dropOnset: openCount,
    factor: {
      kind: 'probe-limited',
      summary: summarizeCause({ kind: 'probe-ran-out', resource, ...answer, openCount, shardsShareProcess }),
      evidence,
    },
  };
}

function firstFailureOf(event: FailureEvent, openCount: number) {
  const { record } = event;
  return {
    at: new Date(event.at).toISOString(),
    openCount,
    failureClass: event.failureClass,
    stage: event.stage,
    ...(record.status !== undefined ? { status: record.status } : {}),
    ...(record.close && record.close.closedBy === 'server' ? { closeCode: record.close.code } : {}),
    ...(record.errorCode !== undefined ? { errorCode: record.errorCode } : {}),
    ...(record.close?.protocolError !== undefined ? { protocolError: record.close.protocolError } : {}),
    ...(record.session ? { session: record.session } : {}),
    ...(record.setup ? { setup: record.setup } : {}),
  };
}

function spreadOf(values: readonly number[]): DurationSpread {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
  return {
    count: sorted.length,
    medianSeconds: round(median, 2),
    minSeconds: round(sorted[0] ?? 0, 2),
    maxSeconds: round(sorted[sorted.length - 1] ?? 0, 2),
  };
}

/** A spread is tight when it fits within 1 s or 10 % of its median, whichever is larger. */
function isTight(spread: DurationSpread): boolean {
  if (spread.medianSeconds < 1) return false;
  return spread.maxSeconds - spread.minSeconds <= Math.max(1, spread.medianSeconds * 0.1);
}

/** Shortest stretch of refusals, and fewest connections let through in it, that a rate is estimated from. */
const RATE_WINDOW_MIN_MS = 1000;
const RATE_SAMPLES_MIN = 5;

/**
 * Handshakes per second let through between the first and last refusal, or
 * undefined when that stretch is too short or too thin to say (a ramp that
 * stops at its first failing stage often sees a fraction of a second).
 */
function rateLetThrough(openedBetween: number, windowMs: number): number | undefined {
  if (windowMs < RATE_WINDOW_MIN_MS || openedBetween < RATE_SAMPLES_MIN) return undefined;
  return round(openedBetween / (windowMs / 1000), 1);
}

/** The `Retry-After` of a refusal: the upgrade's, or the URL provider's when it refused the session. */
function retryAfterOf(record: FailureEvent['record']): string | undefined {
  return record.retryAfter ?? (record.setup?.reason === 'status' ? record.setup.retryAfter : undefined);
}

function distinct(values: readonly (string | undefined)[]): string[] {
  return [...new Set(values.filter((value): value is string => value !== undefined))];
}
