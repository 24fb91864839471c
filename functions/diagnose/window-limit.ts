/**
 * Window rate limits: many gateways count upgrades in a fixed or sliding
 * window ("100 upgrades per 60 s") rather than in a token bucket. Such a
 * limit lets about N through, refuses everything until the window moves on,
 * then lets some through again. The measurement sends at the connect rate
 * with one handshake in flight; once refused, it sends single probes, further
 * apart the longer the refusals last (never before a Retry-After has passed),
 * until one gets through, and then goes on at the connect rate: a refusal
 * span. After WINDOW_SPANS spans (in as many plans as the plan's largest
 * stage allows) it looks for the smallest count N and a window W for which
 * "at most N upgrades in any W seconds" explains every upgrade it sent: each
 * one let through had fewer than N others within W before it, each refused
 * one had N. A fixed window fits that rule too (its N come right after each
 * boundary). It is a window only when a whole group of upgrades got through
 * in a row; a token bucket refusing again after one token lets one or two.
 */
import { REFUSAL_CLASSES } from '../engine/limiting-factor.js';
import { classifyRecord } from '../engine/classify.js';
import { planRun } from '../engine/plan.js';
import { RampControl } from '../engine/ramp-control.js';
import { round } from '../engine/units.js';
import type { ShardEvent } from '../engine/types.js';
import {
  experimentSettings,
  maxExperimentConnections,
  pause,
  runExperimentPlan,
  type ExperimentContext,
  type ExperimentStop,
} from './experiment-probe.js';
import { describeRate } from './report.js';
import { retryAfterOf } from './retry-after.js';

/** Refusal spans the measurement observes at least… */
const WINDOW_SPANS = 3;
/** …and at most, when no window fits. */
const MAX_SPANS = 3 * WINDOW_SPANS;
/** Groups (fragments of a sliding window's count, freed in the pattern they came in) one window may hold at most. */
const MAX_GROUPS_PER_WINDOW = 4;
/** Probes while refused are this fraction of the time refused so far apart (so W is read to about 6 %). */
const PROBE_GAP_FRACTION = 1 / 16;
/** Longest gap between two probes while refused, in seconds. */
const MAX_PROBE_GAP_SECONDS = 2;
/** Fewest upgrades in a window for it to be told from a token bucket that lets one or two through per refill. */
const MIN_WINDOW_COUNT = 4;
/** A fit this narrow, relative to the window, is read as its middle; a wider one as its longest window. */
const NARROW_FIT = 0.1;
/** Windows a fixed-window fit tries, evenly up to the longest the trace allows. */
const WINDOW_SCAN_STEPS = 2000;
/** Groups let through after a refusal span that a window is read from. */
const MIN_ESTIMATES = 2;
/** Delay before each plan's first upgrade. */
const PLAN_START_DELAY_MS = 100;

/** Every upgrade the measurement sent, by attempt time: those let through, and those refused. */
export interface WindowTrace {
  /** The upgrades let through, in order: attempt time (epoch ms), and its group (k after the k-th refusal span). */
  accepted: { at: number; group: number }[];
  /** Refused upgrades: attempt time, how many had been let through before, and the Retry-After it asked for. */
  refused: { at: number; acceptedBefore: number; retryAfterSeconds?: number }[];
  /** Upgrades let through before each refusal span began, and whether it ended (an upgrade got through again). */
  spans: { acceptedBefore: number; ended: boolean }[];
  /**
   * Upgrades let through before each plan after the first began: the pause between two plans may hide a fixed
   * window's boundary, so a group with one inside says nothing about its size.
   */
  breaks: number[];
}

/** What the trace says: a window of `count` upgrades per `seconds`, or why not. */
export type WindowVerdict = { kind: 'window'; count: number; seconds: number } | { kind: 'not-window'; reason: string };

/** The measurement: its verdict (or why it stopped), a line per plan, the refusals seen and the probe-seconds. */
export interface WindowMeasurement {
  verdict: WindowVerdict | { kind: 'stopped'; stop: ExperimentStop };
  steps: string[];
  statuses: Record<string, number>;
  retryAfter: string[];
  probeSeconds: number;
}

/**
 * A sliding window: the W for which at most `count` upgrades in any W
 * seconds explains the trace, as the range it allows (above the time from
 * the `count`-th last upgrade let through to every refused one, at most that
 * to every one let through); undefined when no W does.
 */
export function slidingWindowFor(trace: WindowTrace, count: number): WindowRange | undefined {
  let above = 0;
  let atMost = Number.POSITIVE_INFINITY;
  for (const [index, { at }] of trace.accepted.entries()) {
    const oldest = trace.accepted[index - count];
    if (oldest !== undefined) atMost = Math.min(atMost, at - oldest.at);
  }
  for (const refusal of trace.refused) {
    const oldest = trace.accepted[refusal.acceptedBefore - count];
    if (oldest !== undefined) above = Math.max(above, refusal.at - oldest.at);
  }
  return above < atMost && Number.isFinite(atMost) ? rangeOf(above, atMost) : undefined;
}

/**
 * A range of windows in seconds, from milliseconds, with its estimate: the middle when probes closed in from both
 * sides (the range is narrow), else the longest window, which errs towards a lower rate.
 */
function rangeOf(aboveMs: number, atMostMs: number): WindowRange {
  const estimate = atMostMs - aboveMs <= NARROW_FIT * atMostMs ? (aboveMs + atMostMs) / 2 : atMostMs;
  return { above: aboveMs / 1000, atMost: atMostMs / 1000, estimate: estimate / 1000 };
}

/**
 * A fixed window: the W for which boundaries W apart fall, one each, between
 * the last refused upgrade before each group and the group's first (so each
 * group came in its own window), as the range of W that allows it;
 * undefined when none does or fewer than MIN_ESTIMATES groups ended.
 */
function fixedWindowFor(trace: WindowTrace): WindowRange | undefined {
  const reopenings = reopeningsOf(trace);
  const first = reopenings[0];
  const last = reopenings[reopenings.length - 1];
  if (!first || !last || reopenings.length < MIN_ESTIMATES) return undefined;
  // The k-th reopening follows the boundary b + m_k·W (m_k rising; a group that straddled a boundary skips one): b lies
  // in (after − m_k·W, at − m_k·W] for each. Scan W down from the longest the trace allows for a b that fits them all,
  // and keep the longest run of fitting windows (shorter ones that also fit, W / 2 and so on, the trace cannot refute).
  const longest = (last.at - first.after) / (reopenings.length - 1);
  let atMost: number | undefined;
  let above: number | undefined;
  for (let step = WINDOW_SCAN_STEPS; step >= 1; step -= 1) {
    const ms = (longest * step) / WINDOW_SCAN_STEPS;
    const multiples = reopenings.map((reopening) => Math.round((reopening.at - first.at) / ms));
    const rising = multiples.every((m, k) => k === 0 || m > (multiples[k - 1] ?? 0));
    const lowest = Math.max(...reopenings.map((reopening, k) => reopening.after - (multiples[k] ?? 0) * ms));
    const highest = Math.min(...reopenings.map((reopening, k) => reopening.at - (multiples[k] ?? 0) * ms));
    if (rising && lowest < highest) {
      atMost ??= ms;
      above = ms;
    } else if (atMost !== undefined) break;
  }
  return above === undefined || atMost === undefined ? undefined : rangeOf(above, atMost);
}

/** The range of windows that explains a trace, in seconds: above `above`, at most `atMost`; the best guess in it. */
export interface WindowRange {
  above: number;
  atMost: number;
  estimate: number;
}

/**
 * Judges a trace. When the groups let through after a refusal span were the
 * same size N (or more, where one straddled a boundary), it reads a fixed
 * window of N (fixedWindowFor); else, or when that does not fit, a sliding
 * one: the smallest N, no smaller than any such group, that slidingWindowFor
 * fits. Either needs MIN_ESTIMATES groups and at least MIN_WINDOW_COUNT
 * upgrades in one. The window is the fit's estimate (see each fit).
 */
export function judgeWindow(trace: WindowTrace): WindowVerdict {
  const bounded = withRetryAfterBounds(trace);
  const tight = bounded === trace ? undefined : judgeFits(bounded);
  return tight?.kind === 'window' ? tight : judgeFits(trace);
}

/**
 * The trace with what a Retry-After of R whole seconds says, when it is the
 * time until the window frees rounded up: the window was still full R − 1
 * seconds after the refusal. Read as a refusal then, it narrows the fit to
 * about the probe's own precision; when the target's Retry-After is not that
 * (a fixed value, longer than the window), nothing fits, and judgeWindow
 * reads the trace without it.
 */
function withRetryAfterBounds(trace: WindowTrace): WindowTrace {
  const implied = trace.refused.flatMap((refusal) =>
    (refusal.retryAfterSeconds ?? 0) >= 2
      ? [{ at: refusal.at + ((refusal.retryAfterSeconds ?? 0) - 1) * 1000, acceptedBefore: refusal.acceptedBefore }]
      : [],
  );
  return implied.length ? { ...trace, refused: [...trace.refused, ...implied].sort((a, b) => a.at - b.at) } : trace;
}

/** The fits of judgeWindow over one reading of the trace. */
function judgeFits(trace: WindowTrace): WindowVerdict {
  const groups = groupSizes(trace);
  const largest = Math.max(0, ...groups);
  const notWindow = (why: string): WindowVerdict => ({
    kind: 'not-window',
    reason: `${why} (the refusals ended ${groups.length} times; at most ${largest} got through in a row)`,
  });
  if (groups.length < MIN_ESTIMATES) return notWindow('too few groups got through after a refusal to read a window');
  // A plan closes its connections when it ends, which frees a cap too: refusals that ended only as a plan began say
  // nothing about time.
  const endedInPlan = trace.spans.filter((span) => span.ended && !trace.breaks.includes(span.acceptedBefore)).length;
  if (endedInPlan < MIN_ESTIMATES) {
    return notWindow('the refusals ended only when a new plan began, after the last one closed its connections');
  }
  if (largest < MIN_WINDOW_COUNT) return notWindow('too few got through after each refusal for a window');
  // A fixed window lets the same count through after each reopening (up to two windows' worth when a group straddled
  // a boundary): the smallest group, when at least MIN_ESTIMATES and half the groups are that size (to 2 %). A group a
  // little larger straddled a boundary by a few upgrades, so it says nothing more about the count.
  const smallest = Math.min(...groups);
  const tolerance = Math.max(1, Math.round(smallest * 0.02));
  const equal = groups.filter((size) => size - smallest <= tolerance).length;
  const merges = groups.every((size) => size <= 2 * smallest + tolerance);
  if (merges && equal >= MIN_ESTIMATES && 2 * equal >= groups.length && smallest >= MIN_WINDOW_COUNT) {
    const fit = fixedWindowFor(trace);
    if (fit) return window(smallest, fit);
  }
  for (let count = largest; count < trace.accepted.length && count <= MAX_GROUPS_PER_WINDOW * largest; count += 1) {
    const fit = slidingWindowFor(trace, count);
    if (fit) return window(count, fit);
  }
  return notWindow('no count of upgrades per window explains what was let through and refused');
}

function window(count: number, fit: WindowRange): WindowVerdict {
  return { kind: 'window', count, seconds: round(fit.estimate, fit.estimate < 10 ? 2 : 1) };
}

/**
 * Whether a trace is complete: WINDOW_SPANS spans ended and, since the first reopening, it covers the window it reads
 * twice; or MAX_SPANS ended without one.
 */
export function traceComplete(trace: WindowTrace): boolean {
  const ended = trace.spans.filter((span) => span.ended).length;
  if (ended < WINDOW_SPANS) return false;
  if (ended >= MAX_SPANS) return true;
  const verdict = judgeWindow(trace);
  const first = trace.accepted.find((accepted) => accepted.group > 0)?.at ?? 0;
  const last = trace.accepted[trace.accepted.length - 1]?.at ?? 0;
  return verdict.kind === 'window' && last - first >= 2 * verdict.seconds * 1000;
}

/** Each group's first upgrade let through (`at`) and the last refused one before it (`after`), in epoch ms. */
function reopeningsOf(trace: WindowTrace): { after: number; at: number }[] {
  return trace.spans.flatMap((span) => {
    const at = trace.accepted[span.acceptedBefore]?.at;
    const refusals = trace.refused.filter((refusal) => refusal.acceptedBefore === span.acceptedBefore);
    const after = refusals.length ? Math.max(...refusals.map((refusal) => refusal.at)) : undefined;
    return span.ended && at !== undefined && after !== undefined ? [{ after, at }] : [];
  });
}

/** Sizes of the groups let through in a row after a refusal span ended, up to the next refusal. */
function groupSizes(trace: WindowTrace): number[] {
  // The last group is cut short when the measurement ends at its first upgrade; one with a plan's pause inside, too.
  return trace.spans.slice(0, -1).flatMap((span, index) => {
    const end = trace.spans[index + 1]?.acceptedBefore ?? span.acceptedBefore;
    const broken = trace.breaks.some((at) => at > span.acceptedBefore && at < end);
    return span.ended && !broken ? [end - span.acceptedBefore] : [];
  });
}

/**
 * Sends at `rate` after `pauseSeconds` until WINDOW_SPANS refusal spans have
 * ended, each plan at most the plan's largest stage in upgrades, within
 * `secondsLeft()`; then judges the trace.
 */
export async function measureWindow(
  context: ExperimentContext,
  input: { rate: number; pauseSeconds: number; secondsLeft: () => number },
): Promise<WindowMeasurement> {
  const { rate, secondsLeft } = input;
  const trace: WindowTrace = { accepted: [], refused: [], spans: [], breaks: [] };
  const statuses: Record<string, number> = {};
  const retryAfter = new Set<string>();
  const steps: string[] = [];
  let probeSeconds = 0;
  await pause(context, input.pauseSeconds);
  const endedSpans = (): number => trace.spans.filter((span) => span.ended).length;
  const done = (): boolean => traceComplete(trace);
  for (let plan = 1; !done() && secondsLeft() > 1; plan += 1) {
    const endedBefore = endedSpans();
    const acceptedBefore = trace.accepted.length;
    if (plan > 1) trace.breaks.push(acceptedBefore);
    const run = await runPlan(context, { rate, secondsLeft, trace, done, statuses, retryAfter });
    probeSeconds += run.probeSeconds;
    const opened = trace.accepted.length - acceptedBefore;
    const ended = endedSpans() - endedBefore;
    steps.push(
      `window, part ${plan} at ${describeRate(rate)}, one in flight: ${run.attempted} upgrades, ${opened} got ` +
        `through, ${run.attempted - opened} refused, ${ended} refusal span${ended === 1 ? '' : 's'} ended`,
    );
    context.onProgress(`rate or count: ${steps[steps.length - 1]}`);
    const measured = { steps, statuses, retryAfter: [...retryAfter], probeSeconds: round(probeSeconds, 1) };
    if (run.stop) return { verdict: { kind: 'stopped', stop: run.stop }, ...measured };
    if (context.signal.aborted) return { verdict: { kind: 'stopped', stop: { kind: 'interrupted' } }, ...measured };
    if (run.attempted === 0) break;
  }
  return {
    verdict: judgeWindow(trace),
    steps,
    statuses,
    retryAfter: [...retryAfter],
    probeSeconds: round(probeSeconds, 1),
  };
}

/** What one plan of the measurement needs: where it records, and when it is done. */
interface PlanState {
  rate: number;
  secondsLeft: () => number;
  trace: WindowTrace;
  done: () => boolean;
  statuses: Record<string, number>;
  retryAfter: Set<string>;
}

/**
 * One plan: at most the plan's largest stage in upgrades, at `rate`, one in
 * flight; refused, it holds the next upgrade off by PROBE_GAP_FRACTION of the
 * time refused so far (and any Retry-After); it ends when the trace is done
 * or the budget nearly spent.
 */
async function runPlan(
  context: ExperimentContext,
  state: PlanState,
): Promise<{ attempted: number; probeSeconds: number; stop?: ExperimentStop }> {
  const { rate, trace } = state;
  const count = maxExperimentConnections(context.settings);
  const settings = experimentSettings(context.settings, {
    stages: [count],
    connectRate: rate,
    holdSeconds: 0.2,
    maxInFlight: 1,
    shardSize: count,
  });
  const plan = planRun(settings, { now: context.now, newRunId: () => 'window', startDelayMs: PLAN_START_DELAY_MS });
  const control = new RampControl(settings.tolerance, settings.stages, false);
  let attempted = 0;
  let end = (): void => undefined;
  const onEvent = (event: ShardEvent): void => {
    if (event.type !== 'settled' || event.record.outcome === 'cancelled') return;
    const { record } = event;
    attempted += 1;
    const span = trace.spans[trace.spans.length - 1];
    const refusing = span !== undefined && !span.ended;
    if (record.outcome === 'opened') {
      if (span && refusing) span.ended = true;
      trace.accepted.push({ at: record.attemptedAt, group: trace.spans.length });
      if (refusing && state.done()) end();
      return;
    }
    const failureClass = classifyRecord(record, { anyOpenedBefore: true });
    if (!failureClass || !REFUSAL_CLASSES.has(failureClass)) return;
    const status = record.status === undefined ? undefined : String(record.status);
    if (status !== undefined) state.statuses[status] = (state.statuses[status] ?? 0) + 1;
    if (record.retryAfter) state.retryAfter.add(record.retryAfter);
    const asked = retryAfterOf(record);
    trace.refused.push({
      at: record.attemptedAt,
      acceptedBefore: trace.accepted.length,
      ...(asked !== null ? { retryAfterSeconds: asked } : {}),
    });
    if (!refusing) trace.spans.push({ acceptedBefore: trace.accepted.length, ended: false });
    const from =
      trace.refused.find((refusal) => refusal.acceptedBefore === trace.accepted.length)?.at ?? record.attemptedAt;
    const now = context.now();
    const gap = Math.min(MAX_PROBE_GAP_SECONDS, Math.max(1 / rate, ((now - from) / 1000) * PROBE_GAP_FRACTION));
    control.holdOff(Math.max(now + gap * 1000, record.settledAt + (retryAfterOf(record) ?? 0) * 1000));
    if (state.secondsLeft() < gap + 1) end();
  };
  const run = await runExperimentPlan(context, {
    settings,
    plan,
    control,
    onEvent,
    ending: (ends) => (end = ends),
    honourRetryAfter: state.secondsLeft,
  });
  return { attempted, probeSeconds: run.probeSeconds, ...(run.stop ? { stop: run.stop } : {}) };
}
