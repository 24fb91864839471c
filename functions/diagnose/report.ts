/**
 * The words of a diagnosis: one plain sentence per finding (e.g.
 * "Concurrency cap at 150 (HTTP 503 from the 151st upgrade, at every connect
 * rate tried: 50, 25 and 12.5 connections/s).") and the text report that ends
 * with those sentences. Everything here comes from secret-free data.
 */
import { formatSeconds, formatTenths } from '../engine/units.js';
import type {
  Diagnosis,
  Finding,
  FindingEvidence,
  FindingKind,
  FindingValuesByKind,
  HeartbeatGroupResult,
} from './findings.js';
import { limitScopeSentence } from './limit-scope-decision.js';

/** A finding before its sentence is written. */
export type FindingDraft = { [K in FindingKind]: Omit<Extract<Finding, { kind: K }>, 'sentence'> }[FindingKind];

/** Completes a finding with its sentence. */
export function makeFinding(draft: FindingDraft): Finding {
  return { ...draft, sentence: sentenceFor(draft) };
}

/** The one plain sentence of a finding. */
export function sentenceFor(finding: FindingDraft): string {
  switch (finding.kind) {
    case 'concurrency-cap':
      return behind(finding, capSentence(finding.values, finding.evidence));
    case 'accept-queue': {
      const { count, rates, handshakeTimeoutSeconds } = finding.values;
      return behind(
        finding,
        `Full accept queue at ${count} (from the ${ordinal(count + 1)} upgrade on, handshakes connected ` +
          `over TCP but got no HTTP answer within ${formatSeconds(handshakeTimeoutSeconds)}, ${atRates(rates)}); ` +
          'beware: a queueing gateway may still hand the abandoned handshakes to the backend later, after the ' +
          'client gave up.',
      );
    }
    case 'handshake-rate-limit':
      return rateLimitSentence(finding.values, finding.evidence);
    case 'idle-timeout':
      return idleSentence(finding.values);
    case 'max-lifetime': {
      const { seconds: value, groups } = finding.values;
      return (
        `Maximum connection lifetime of ${formatSeconds(value)} (connections closed ${formatSeconds(value)} after ` +
        `they opened whatever the heartbeat: ${groups.map(describeGroup).join(', ')}); no heartbeat prevents it, ` +
        'so reconnect before then.'
      );
    }
    case 'exact-ceiling': {
      const { value, failsAt, resolution, steps } = finding.values;
      const how =
        steps === 0
          ? "settled from the ramp's own failing stage, no extra probe-seconds"
          : `${steps} refinement step${steps === 1 ? '' : 's'}, ${finding.probeSeconds} probe-seconds`;
      return (
        `Exact ceiling of ${value} connections (${value} held for the whole hold and ${failsAt} did not, to ` +
        `${resolution} connection${resolution === 1 ? '' : 's'}; ${how}).`
      );
    }
    case 'no-limit':
      if (finding.values.rate !== undefined) {
        return behind(
          finding,
          `no other limit up to ${finding.values.max} connections (every upgrade opened); raise --max or --stages ` +
            'to look further.',
        );
      }
      return (
        `No limit found (every stage held up to ${finding.values.max} connections); raise --max or --stages ` +
        'to look further.'
      );
    case 'probe-limited':
    case 'probe-failure':
      return finding.values.summary;
    case 'limit-scope':
      return limitScopeSentence(finding.values);
    case 'undetermined':
      return `The ${finding.values.about} experiment could not decide (${finding.values.reason}).`;
  }
}

/** The diagnosis as text: verdict, the evidence of each experiment, the time spent, then one sentence per finding. */
export function describeDiagnosis(diagnosis: Diagnosis): string {
  const of = diagnosis.runId === null ? 'self-check; nothing was sent' : `run ${diagnosis.runId}`;
  const lines = [`Diagnosis of ${diagnosis.targetId} (${of}): ${diagnosis.verdict.toUpperCase()}`];
  const { gate } = diagnosis;
  if (gate && gate.verdict !== 'passed') lines.push(`  Gate failed (${gate.verdict}): ${gate.reason ?? ''}`);
  for (const finding of diagnosis.findings) {
    const steps = finding.evidence.steps ?? [];
    if (steps.length === 0 && !finding.evidence.note) continue;
    lines.push('', `  ${finding.experiment}:`);
    for (const step of steps) lines.push(`    ${step}`);
    if (finding.evidence.note) lines.push(`    ${finding.evidence.note}`);
  }
  const { ramp, experiments, waits } = diagnosis.seconds;
  lines.push(
    '',
    `  Time: ramp ${ramp} s, follow-up experiments ${experiments} probe-seconds and ${waits} s of pauses ` +
      '(Retry-After, refills).',
  );
  lines.push('', ...diagnosis.findings.map((finding) => finding.sentence));
  return lines.join('\n');
}

/** A connect rate, e.g. `12.5/s`. */
export function describeRate(rate: number): string {
  return `${formatTenths(rate)}/s`;
}

/** 1st, 2nd, 3rd, 11th, 151st… */
export function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

function capSentence(values: FindingValuesByKind['concurrency-cap'], evidence: FindingEvidence): string {
  const statuses = Object.keys(evidence.statuses ?? {});
  const how = statuses.length ? `HTTP ${statuses.join(' or ')}` : 'refused or reset connections';
  const upgrade = `${ordinal(values.count + 1)} upgrade`;
  if (values.queueSeconds === undefined) {
    return `Concurrency cap at ${values.count} (${how} from the ${upgrade}, ${atRates(values.rates)}).`;
  }
  return (
    `Concurrency cap at ${values.count} with a queue in front of it (from the ${upgrade} on, the gateway held each ` +
    `upgrade about ${formatSeconds(values.queueSeconds)}, then answered ${how}, ${atRates(values.rates)}).`
  );
}

/**
 * A finding of the ramp under a rate limit starts by saying so: "Behind the rate limit, ramped at 17.9/s: concurrency
 * cap at 40 (…)."; any other finding's sentence is unchanged.
 */
function behind(finding: FindingDraft, sentence: string): string {
  if (finding.experiment !== 'under-rate-limit') return sentence;
  const rate =
    finding.kind === 'no-limit'
      ? finding.values.rate
      : finding.kind === 'concurrency-cap' || finding.kind === 'accept-queue'
        ? finding.values.rates[0]
        : undefined;
  const ramped = rate === undefined ? '' : `, ramped at ${describeRate(rate)}`;
  return `Behind the rate limit${ramped}: ${sentence.charAt(0).toLowerCase()}${sentence.slice(1)}`;
}

function rateLimitSentence(values: FindingValuesByKind['handshake-rate-limit'], evidence: FindingEvidence): string {
  const statuses = Object.keys(evidence.statuses ?? {});
  const how = statuses.length ? `HTTP ${statuses.join(' or ')}` : 'refusals';
  const retry = evidence.retryAfter?.length ? ` with Retry-After ${evidence.retryAfter.join(', ')}` : '';
  if (values.window && values.perSecond !== null) {
    const { count, seconds } = values.window;
    return (
      `Handshake rate limit of ${count} upgrades per ${formatTenths(seconds)} s, counted in a window ` +
      `(${formatTenths(values.perSecond)} handshakes/s sustained; ${how}${retry}; the refusals ended only when the ` +
      `window moved on, then ${count} got through again)${rateAdvice(values.perSecond)}.`
    );
  }
  const measured =
    values.perSecond === null
      ? 'Handshake rate limit'
      : `Handshake rate limit of ${formatTenths(values.perSecond)} handshakes/s`;
  const burst = values.burst === null ? '' : ` with a burst of ${values.burst}`;
  const slower =
    values.cleanAtRate !== null
      ? `refusals vanished at ${describeRate(values.cleanAtRate)}`
      : `still refused at ${describeRate(Math.min(...values.rates))}, the slowest rate tried`;
  const advice = values.perSecond === null ? '' : rateAdvice(values.perSecond);
  return `${measured}${burst} (${how}${retry}; ${slower}` + `)${advice}.`;
}

/** The advice after a measured rate: `; ramp at 17.9/s or slower (--rate, 90 % of the measured rate) to pass it`. */
function rateAdvice(perSecond: number): string {
  return (
    `; ramp at ${describeRate(safeRate(perSecond))} or slower (--rate, ` +
    `${Math.round(SAFE_RATE_FRACTION * 100)} % of the measured rate) to pass it`
  );
}

/**
 * Fraction of a measured handshake rate advised as a ramp rate, so the advice stays under the true limit despite the
 * measurement's error.
 */
const SAFE_RATE_FRACTION = 0.9;

/** A ramp rate safely under a measured limit, rounded down to 0.1/s (at least 0.1/s). */
export function safeRate(perSecond: number): number {
  return Math.max(0.1, Math.floor(perSecond * SAFE_RATE_FRACTION * 10) / 10);
}

function idleSentence(values: FindingValuesByKind['idle-timeout']): string {
  const silent = values.groups.find((group) => group.heartbeat === 'off');
  const who = silent ? `${silent.of - silent.kept} of ${silent.of} connections without heartbeat` : 'connections';
  const closed = `${who} closed ${formatSeconds(values.seconds)} after their last frame`;
  const beats = values.groups.filter((group) => group.heartbeat !== 'off');
  const kept = beats.filter((group) => group.kept === group.of).map(describeGroup);
  const lost = beats
    .filter((group) => group.kept < group.of)
    .map((group) => `${describeGroup(group)} did not (${group.of - group.kept} of ${group.of} closed)`);
  const keeps = kept.length
    ? `${kept.join(' and ')} kept ${kept.length === 1 ? 'its' : 'their'} connections alive`
    : 'no heartbeat tried kept connections alive';
  return `Idle timeout of ${formatSeconds(values.seconds)} (${closed}); ${[keeps, ...lost].join('; ')}.`;
}

function describeGroup(group: HeartbeatGroupResult): string {
  if (group.heartbeat === 'off') return 'no heartbeat';
  const every = group.intervalSeconds === null ? '' : ` every ${formatSeconds(group.intervalSeconds)}`;
  return `${group.heartbeat === 'ping' ? 'a protocol ping' : 'an application message'}${every}`;
}

function atRates(rates: readonly number[]): string {
  const shown = rates.map(formatTenths);
  if (shown.length === 1) return `at ${shown[0]} connections/s`;
  return `at every connect rate tried: ${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]} connections/s`;
}
