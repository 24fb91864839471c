/**
 * Decides what stopped the ramp and says it in plain words with its evidence:
 * a probe failure (config error, unreachable, the probe's own limits), a
 * duration limit (idle timeout, maximum lifetime: drops at a consistent age
 * whatever the count), or a capacity limit (concurrency cap, handshake rate
 * limit, server degradation). Pure: works on failure events and the timeline.
 */
import type { FailureEvent } from './failures.js';
import { countFailures } from './failures.js';
import { round } from './percentiles.js';
import { isDegradationCloseCode, probeResourceOf } from './classify.js';
import { probeLimitFix } from './self-check.js';
import type { OpenTimeline } from './timeline.js';
import type {
  DurationSpread,
  FailureClass,
  HeartbeatSettings,
  LimitingFactor,
  LoopDelaySample,
  ShardAbort,
} from './types.js';

/** Event-loop delay p99 (ms) above which the probe's own timing cannot be trusted. */
export const STARVED_LOOP_DELAY_MS = 500;

/** Fewest drops that can establish a duration limit. */
const MIN_DROPS_FOR_DURATION_LIMIT = 3;

/** Failure classes that refuse a new connection (as opposed to dropping an open one). */
export const REFUSAL_CLASSES: ReadonlySet<FailureClass> = new Set<FailureClass>([
  'handshake-rejected',
  'handshake-timeout',
  'connect-error',
]);
const DROP_CLASSES = new Set<FailureClass>(['abnormal-closure', 'server-close', 'pong-timeout']);

/** What each resource of the probe's host is called in a sentence. */
const RESOURCE_WORDS = {
  descriptors: 'file descriptors',
  'ephemeral-ports': 'local ports',
  memory: 'memory',
  heap: 'V8 heap',
} as const;

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
        summary:
          `The probe's event loop was starved (p99 delay ${Math.round(p99)} ms, up to ${Math.round(worst)}` +
          ` ms; ${STARVED_LOOP_DELAY_MS} ms or more is starved), so its timings cannot be trusted. Fix: ${probeLimitFix('event-loop', probe.shardsShareProcess)}` +
          '.',
        evidence: { failures: countFailures(events), eventLoopDelayMaxMs: worst },
      },
    };
  }
  return aborted?.failureClass === 'interrupted' ? 'interrupted' : undefined;
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
  const codes = describeCloseCodes(failures.byCloseCode);
  if (isTight(age) && (heartbeat !== 'off' || !isTight(idle))) {
    return {
      dropOnset,
      factor: {
        kind: 'max-lifetime',
        valueSeconds: age.medianSeconds,
        summary:
          `Maximum connection lifetime of ${seconds(age.medianSeconds)}: ${drops.length} connections were ` +
          `closed (${codes}) ${seconds(age.medianSeconds)} after they opened (${range(age)}), whatever ` +
          'the open count, even with heartbeats. This is a duration limit, not a concurrency ceiling.',
        evidence: { failures, firstFailure: firstFailureOf(first, dropOnset), connectionAge: age, idleAge: idle },
      },
    };
  }
  if (!isTight(idle)) return undefined;
  const advice =
    heartbeat === 'off'
      ? `Keep connections alive with --ping under ${seconds(idle.medianSeconds)} to measure the concurrency ceiling.`
      : `The ${heartbeat === 'ping' ? 'protocol pings' : 'application heartbeats'} sent did not reset it: try ` +
        'the other kind of heartbeat or a shorter interval.';
  return {
    dropOnset,
    factor: {
      kind: 'idle-timeout',
      valueSeconds: idle.medianSeconds,
      summary:
        `Idle timeout of ${seconds(idle.medianSeconds)}: ${drops.length} connections were closed (${codes}` +
        `) ${seconds(idle.medianSeconds)} after their last frame (${range(idle)}), whatever the open ` +
        `count. ${advice}`,
      evidence: { failures, firstFailure: firstFailureOf(first, dropOnset), idleAge: idle, connectionAge: age },
    },
  };
}

/**
 * What limited capacity, from the failures of the first failing stage on:
 * refusals that stop the open count (cap), refusals while the count keeps
 * rising (rate limit), or open connections being dropped (degradation).
 */
export function findCapacityLimit(
  limitingEvents: readonly FailureEvent[],
  timeline: OpenTimeline,
  handshakeP95Ms: { first: number | null; failing: number | null },
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
        summary:
          `Server degradation from ${dropOnset} open connections: ${describeDrops(failures)}${describeSlowdown(handshakeP95Ms)}` +
          '. Open connections were dropped rather than new ones refused.',
        evidence,
      },
    };
  }
  const firstRefusal = refusals[0] as FailureEvent;
  const lastRefusal = refusals[refusals.length - 1] as FailureEvent;
  const onsetAtRefusal = timeline.openAt(firstRefusal.at);
  const peakAfter = timeline.peakBetween(firstRefusal.at, Number.POSITIVE_INFINITY);
  const openedAfter = timeline.openedBetween(firstRefusal.at, lastRefusal.at);
  const retryAfter = distinct(refusals.map((event) => event.record.retryAfter));
  const how = describeRefusals(failures);
  if (peakAfter > onsetAtRefusal) {
    const rate = rateLetThrough(openedAfter, lastRefusal.at - firstRefusal.at);
    const rateWords = rate !== undefined ? ` at about ${rate} per second` : '';
    const tooBrief =
      rate === undefined
        ? ' The refusals lasted too briefly to estimate the rate let through: ws-ceiling diagnose measures it.'
        : '';
    return {
      dropOnset,
      factor: {
        kind: 'handshake-rate-limit',
        summary:
          `Handshake rate limit: upgrades were refused (${how}${retryAfter.length ? `, Retry-After ${retryAfter.join(', ')}` : ''}` +
          `) while connections kept opening${rateWords}; the open count rose from ${onsetAtRefusal} to ${peakAfter}` +
          ' after the first refusal, so the limit is on the rate, not the count. Ramp more slowly ' +
          `(--rate) to pass it.${tooBrief}`,
        evidence: {
          ...evidence,
          ...(retryAfter.length ? { retryAfter } : {}),
          openedAfterFirstRefusal: openedAfter,
          ...(rate !== undefined ? { sustainableHandshakesPerSecond: rate } : {}),
        },
      },
    };
  }
  return {
    dropOnset,
    factor: {
      kind: 'concurrency-cap',
      summary:
        `Concurrency cap at ${onsetAtRefusal}: upgrades failed (${how}) once ${onsetAtRefusal} ` +
        'connections were open, and none opened after the first refusal.',
      evidence: { ...evidence, ...(retryAfter.length ? { retryAfter } : {}), openedAfterFirstRefusal: 0 },
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
  const { status, errorCode, errorMessage } = first.record;
  if (failureClass === 'config-error') {
    const answer = status !== undefined ? `HTTP ${status}` : `${errorMessage ?? errorCode}`;
    return {
      dropOnset: null,
      factor: {
        kind: 'config-error',
        summary:
          `The target refused the connection as misconfigured (${answer}) at ${url}: check the URL, ` +
          '--header values and --subprotocol. This is a probe failure, not a ceiling.',
        evidence,
      },
    };
  }
  if (failureClass === 'unreachable') {
    const why =
      first.record.outcome === 'handshake-timeout'
        ? 'TCP connected but the upgrade was never answered'
        : `${errorCode ?? 'error'}${errorMessage ? `: ${errorMessage}` : ''}`;
    return {
      dropOnset: null,
      factor: {
        kind: 'unreachable',
        summary:
          `Could not reach ${url} (${why}) before any connection opened: check the URL and that the ` +
          'target is running. This is a probe failure, not a ceiling.',
        evidence,
      },
    };
  }
  const resource = probeResourceOf(errorCode) ?? 'descriptors';
  return {
    dropOnset: openCount,
    factor: {
      kind: 'probe-limited',
      summary:
        `The probe itself ran out of ${RESOURCE_WORDS[resource]} (${errorCode ?? 'resources'}) at ${openCount}` +
        ` open connections, so this run cannot say where the target's limit is. Fix: ${probeLimitFix(resource, probe.shardsShareProcess)}` +
        '.',
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

function describeRefusals(failures: ReturnType<typeof countFailures>): string {
  const parts: string[] = [];
  for (const [status, count] of Object.entries(failures.byStatus)) parts.push(`${count} × HTTP ${status}`);
  const timeouts = failures.byClass['handshake-timeout'];
  if (timeouts) parts.push(`${timeouts} × connected over TCP but never answered: a full accept queue`);
  for (const [code, count] of Object.entries(failures.byErrorCode)) parts.push(`${count} × ${code}`);
  return parts.join(', ');
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

/** Handshake p95 at least this many times the first stage's counts as a slowdown worth naming. */
const SLOWDOWN_FACTOR = 2;

/**
 * The handshake p95 of the first and the failing stage when the failing
 * stage's handshakes were at least SLOWDOWN_FACTOR times slower (a
 * degradation's summary and the report's headline both name it); undefined
 * otherwise.
 */
export function handshakeSlowdown(
  p95: { first: number | null; failing: number | null } | undefined,
): { first: number; failing: number } | undefined {
  if (!p95) return undefined;
  const { first, failing } = p95;
  if (first === null || failing === null || first <= 0 || failing < first * SLOWDOWN_FACTOR) return undefined;
  return { first, failing };
}

/** ", with handshake p95 rising from A ms to B ms" when the failing stage's handshakes slowed markedly. */
function describeSlowdown(handshakeP95Ms: { first: number | null; failing: number | null }): string {
  const slowed = handshakeSlowdown(handshakeP95Ms);
  if (!slowed) return '';
  return (
    `, with handshake p95 rising from ${round(slowed.first, 1)} ms in the first stage to ${round(slowed.failing, 1)}` +
    ' ms in the failing one'
  );
}

function describeDrops(failures: ReturnType<typeof countFailures>): string {
  const parts: string[] = [];
  const pongTimeouts = failures.byClass['pong-timeout'];
  if (pongTimeouts) parts.push(`${pongTimeouts} pong timeouts`);
  for (const [code, count] of Object.entries(failures.byCloseCode)) parts.push(`${count} closes with code ${code}`);
  return parts.join(', ');
}

function describeCloseCodes(byCloseCode: Record<string, number>): string {
  const codes = Object.keys(byCloseCode);
  const described = codes.map((code) => (code === '1006' ? '1006, no close frame' : `code ${code}`));
  return described.join('; ') || 'no close code';
}

function distinct(values: readonly (string | undefined)[]): string[] {
  return [...new Set(values.filter((value): value is string => value !== undefined))];
}

function seconds(value: number): string {
  return `${value.toFixed(1)} s`;
}

function range(spread: DurationSpread): string {
  return `${spread.minSeconds.toFixed(1)}–${spread.maxSeconds.toFixed(1)} s`;
}
