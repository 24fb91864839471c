/**
 * The count check of the rate-or-count experiment. Refusals at the same count
 * at every connect rate look like a concurrency cap, and so does a window
 * rate limit ("100 upgrades per 60 s") whose window moved on between the
 * attempts. A cap counts the connections open; a window counts the upgrades
 * it let through in time. So the check keeps N − k of the N connections open
 * and, while they stay open, opens k and a few more (a refill), closes those
 * and refills again. A cap lets exactly k in each time: closing them freed
 * their slots, and the connections held open still count. A window lets none
 * in the second time (the upgrades it let through still count) or more than
 * k (it moved on, and the connections held open do not count). Only a count
 * that holds both times is a count limit, and only a count limit may have an
 * exact ceiling.
 */
import type { ConnectionRecord } from '../engine/types.js';
import { describeAttempt, observeAttempt, type AttemptObservation } from './attempt-observation.js';
import {
  openAndHold,
  pause,
  ProbeLedger,
  type ExperimentContext,
  type ExperimentRun,
  type ExperimentStop,
} from './experiment-probe.js';
import { MIN_PAUSE_SECONDS } from './rate-limit-measurement.js';
import { describeRate } from './report.js';

/** Fraction of the count a refill reopens (at least 1 connection, and 2 once the count allows it). */
const REFILL_FRACTION = 0.1;
/** Upgrades a refill tries beyond the free slots: at least this many, or half the slots. */
const MIN_REFILL_OVERSHOOT = 3;

/** Where the check starts from. */
export interface CountCheckInput {
  /** Connections open at the first refusal, the same at every rate tried. */
  count: number;
  /** Connect rate of every step. */
  rate: number;
  /** Hold after a refill's last upgrade, so refusals that come late (a queue, unanswered upgrades) are seen. */
  settleSeconds: number;
  /** Seconds to wait before the check: a Retry-After still running, and time for closed slots to settle. */
  pauseSeconds: number;
  /** Seconds left of the experiment's budget. */
  secondsLeft: () => number;
}

/** What a refill showed, and how the connections held open meanwhile fared. */
export interface CountCheckEvidence {
  count: number;
  /** Connections held open, and how many of them opened, were refused, and closed before the refills ended. */
  held: { target: number; opened: number; refused: number; closedEarly: number };
  /** Free slots each refill should find. */
  slots: number;
  refills: AttemptObservation[];
}

/**
 * The check's answer: the count held twice with the others open; the refusals followed time, not the connections open;
 * the check could not tell (and why); or it was stopped.
 */
export type CountCheckOutcome =
  | { kind: 'count' }
  | { kind: 'time'; reason: string }
  | { kind: 'undetermined'; reason: string }
  | { kind: 'stopped'; stop: ExperimentStop };

/** The whole check: its answer, the refills' observations, a line per step and the probe-seconds it took. */
export interface CountCheck {
  outcome: CountCheckOutcome;
  observations: AttemptObservation[];
  steps: string[];
  probeSeconds: number;
}

/** The connections a check holds open and the slots each refill should find, for a count of `count`. */
export function refillPlan(count: number): { held: number; slots: number; upgrades: number } {
  const slots = Math.min(count, Math.max(count >= 4 ? 2 : 1, Math.ceil(count * REFILL_FRACTION)));
  return { held: count - slots, slots, upgrades: slots + Math.max(MIN_REFILL_OVERSHOOT, Math.ceil(slots / 2)) };
}

/**
 * Judges the check: a count limit when every connection held open opened and
 * stayed open, and each refill let in the free slots (to 2 % of the count)
 * and none after its first refusal, at the same count.
 */
export function judgeCountCheck(evidence: CountCheckEvidence): CountCheckOutcome {
  const { count, held, slots, refills } = evidence;
  const tolerance = Math.max(1, Math.round(count * 0.02));
  if (held.refused > 0 || held.opened < held.target) {
    return undetermined(
      `only ${held.opened} of ${held.target} connections reopened below the count of ${count} ` +
        `(${held.refused} refused), so the refusals do not follow the connections open`,
    );
  }
  if (held.closedEarly > 0) {
    return undetermined(`${held.closedEarly} of the ${held.target} connections held open were closed by the target`);
  }
  for (const [index, refill] of refills.entries()) {
    const which = index === 0 ? 'the first refill' : 'the refill after closing the first';
    const tooMany = refill.opened > slots + tolerance;
    if (refill.openedAfterFirstRefusal > 0 || (tooMany && refill.refused === 0)) {
      return time(
        `${which} let ${refill.opened} in with ${held.target} held open and ${slots} slots free: connections ` +
          'got in past the count, so it is not a count of connections open',
      );
    }
    if (index > 0 && refill.opened < slots - tolerance) {
      return time(
        `closing the ${refills[0]?.opened ?? 0} connections of the first refill freed no slot: ${which} let ` +
          `${refill.opened} of ${slots} in, so the refusals count upgrades over time, not connections open`,
      );
    }
    const at = refill.openBeforeFirstRefusal;
    if (at === null || Math.abs(at - count) > tolerance || tooMany) {
      return undetermined(
        `${which} was refused with ${at ?? held.target + refill.opened} open, not at the count of ${count}`,
      );
    }
  }
  return { kind: 'count' };
}

/**
 * Runs the check: holds N − k connections open at `rate`, then two refills of
 * k and a few more, the second after the first's connections closed (and any
 * Retry-After they asked for passed), then closes everything.
 */
export async function runCountCheck(context: ExperimentContext, input: CountCheckInput): Promise<CountCheck> {
  const { count, rate, settleSeconds, secondsLeft } = input;
  const plan = refillPlan(count);
  const refillSeconds = plan.upgrades / rate + settleSeconds + 0.5;
  const steps: string[] = [];
  if (count < 1)
    return undeterminedCheck('refused from the first upgrade, so there is no count of connections to check');
  if (input.pauseSeconds + plan.held / rate + 2 * refillSeconds + MIN_PAUSE_SECONDS > secondsLeft()) {
    return undeterminedCheck(
      `the count check would take longer than is left of the experiment budget of ${context.budgetSeconds} s`,
    );
  }
  await pause(context, Math.max(MIN_PAUSE_SECONDS, input.pauseSeconds));
  const holder = await startHolder(context, plan.held, rate, secondsLeft);
  // The holder's step counts the probe-seconds of the whole check; the refills run inside it.
  const refillContext = plan.held > 0 ? { ...context, ledger: new ProbeLedger() } : context;
  const refills: AttemptObservation[] = [];
  let stop: ExperimentStop | undefined;
  let refillProbeSeconds = 0;
  let refillsEndedAt = context.now();
  for (const label of ['a refill', 'a refill after closing those']) {
    if (refills.length > 0) {
      const wait = retryAfterLeft(refills, context.now());
      if (wait > secondsLeft() - refillSeconds) {
        steps.push(`count check, ${label}: not tried, a Retry-After of ${wait.toFixed(1)} s is past the budget`);
        break;
      }
      await pause(context, Math.max(MIN_PAUSE_SECONDS, wait));
    }
    const run = await openAndHold(refillContext, { count: plan.upgrades, rate, holdSeconds: settleSeconds });
    refillsEndedAt = context.now();
    refillProbeSeconds += run.probeSeconds;
    stop = run.stop;
    if (stop) break;
    const observation = observeAttempt(run.records, {
      allRecords: [...holder.records, ...run.records],
      stages: run.stages,
      rate,
      fromRefill: false,
    });
    refills.push(observation);
    steps.push(describeAttempt(`count check, ${label}: ${plan.upgrades} at ${describeRate(rate)}`, observation));
    context.onProgress(`rate or count: ${steps[steps.length - 1]}`);
  }
  holder.end();
  const held = await holder.run;
  steps.unshift(describeHolder(plan.held, rate, held));
  const probeSeconds = plan.held > 0 ? held.probeSeconds : refillProbeSeconds;
  stop ??= held.stop;
  if (stop) return { outcome: { kind: 'stopped', stop }, observations: refills, steps, probeSeconds };
  if (refills.length < 2) {
    const outcome = undetermined('the count check could not refill twice within the experiment budget');
    return { outcome, observations: refills, steps, probeSeconds };
  }
  const outcome = judgeCountCheck({
    count,
    held: {
      target: plan.held,
      opened: held.records.filter((record) => record.outcome === 'opened').length,
      refused: held.records.filter((record) => record.outcome !== 'opened' && record.outcome !== 'cancelled').length,
      closedEarly: held.records.filter((record) => record.close && record.close.at <= refillsEndedAt).length,
    },
    slots: plan.slots,
    refills,
  });
  return { outcome, observations: refills, steps, probeSeconds };

  function undeterminedCheck(reason: string): CountCheck {
    return { outcome: undetermined(reason), observations: [], steps, probeSeconds: 0 };
  }
}

/** Connections held open until `end()`: the step, and the records settled so far. */
interface Holder {
  records: ConnectionRecord[];
  end: () => void;
  run: Promise<ExperimentRun>;
}

/** Opens `count` connections at `rate` and resolves once every one has settled; they stay open until `end()`. */
async function startHolder(
  context: ExperimentContext,
  count: number,
  rate: number,
  secondsLeft: () => number,
): Promise<Holder> {
  const records: ConnectionRecord[] = [];
  if (count === 0) {
    const empty: ExperimentRun = { records, stages: [], probeSeconds: 0, loopDelay: [] };
    return { records, end: () => undefined, run: Promise.resolve(empty) };
  }
  let end = (): void => undefined;
  let settled = (): void => undefined;
  const allSettled = new Promise<void>((resolve) => (settled = resolve));
  const run = openAndHold(context, {
    count,
    rate,
    holdSeconds: Math.max(1, secondsLeft()),
    ending: (ends) => (end = ends),
    onEvent: (event) => {
      if (event.type !== 'settled') return;
      records.push(event.record);
      if (records.length >= count) settled();
    },
  });
  await Promise.race([allSettled, run]);
  return { records, end: () => end(), run };
}

function describeHolder(count: number, rate: number, run: ExperimentRun): string {
  const opened = run.records.filter((record) => record.outcome === 'opened').length;
  const refused = run.records.filter((record) => record.outcome !== 'opened' && record.outcome !== 'cancelled').length;
  const refusedText = refused > 0 ? `, ${refused} refused` : '';
  return `count check: ${count} held open at ${describeRate(rate)} while refilling: ${opened} opened${refusedText}`;
}

/** Seconds until the longest Retry-After of the refills has passed. */
function retryAfterLeft(observations: readonly AttemptObservation[], now: number): number {
  return Math.max(
    0,
    ...observations.map((o) =>
      o.lastRefusalAt !== null && o.retryAfterSeconds !== null
        ? (o.lastRefusalAt + o.retryAfterSeconds * 1000 - now) / 1000
        : 0,
    ),
  );
}

function time(reason: string): CountCheckOutcome {
  return { kind: 'time', reason };
}

function undetermined(reason: string): CountCheckOutcome {
  return { kind: 'undetermined', reason };
}
