/**
 * The vocabulary of a diagnosis: what each follow-up experiment found, as
 * data (kind, values, evidence, probe-seconds), and the diagnosis as a whole.
 * report.ts turns each finding into one plain sentence.
 */
import type { SelfCheck } from '../engine/self-check.js';
import type { FailureClass, HeartbeatSettings, RunResult } from '../engine/types.js';
import type { LimitScope, ScopedLimit, ScopeKind } from './limit-scope-decision.js';

/**
 * The experiments of `diagnose`, and the ramp and self-check they start from (a `self-check` finding: the plan was
 * refused before anything was sent).
 */
export type ExperimentName =
  | 'self-check'
  | 'ramp'
  | 'rate-or-count'
  | 'queueing-gateway'
  | 'under-rate-limit'
  | 'idle-timeout'
  | 'refinement'
  | 'limit-scope';

/** What an experiment saw, in numbers a person can check. */
export interface FindingEvidence {
  /** Refusals by HTTP status, e.g. {"503": 10}. */
  statuses?: Partial<Record<string, number>>;
  /** Failures by class. */
  failureClasses?: Partial<Record<FailureClass, number>>;
  /** Distinct Retry-After values seen. */
  retryAfter?: string[];
  /** One line per step or attempt, e.g. "40 connections at 25/s: 30 opened, 10 refused (HTTP 503 × 10)". */
  steps?: string[];
  /** Anything else worth saying. */
  note?: string;
}

/** One group of the idle-timeout experiment: its heartbeat and how many of its connections survived the hold. */
export interface HeartbeatGroupResult {
  heartbeat: HeartbeatSettings['kind'];
  intervalSeconds: number | null;
  kept: number;
  of: number;
  /** Median seconds after opening at which the target closed this group's connections; null when it closed none. */
  closedAfterSeconds: number | null;
}

/** The values of each kind of finding. */
export interface FindingValuesByKind {
  /**
   * Upgrades refused once `count` connections were open, at every rate tried; with `queueSeconds` when the gateway held
   * each refused upgrade about that long in its queue before it answered.
   */
  'concurrency-cap': { count: number; rates: number[]; queueSeconds?: number };
  /** Upgrades left unanswered once `count` connections were open: a full accept queue. */
  'accept-queue': { count: number; rates: number[]; handshakeTimeoutSeconds: number };
  /**
   * A handshake rate limit: sustainable handshakes per second and the burst, the rate at which refusals vanished, the
   * rates tried; with `window` when it counts `count` upgrades per window of `seconds` (fixed or sliding), not in a
   * token bucket.
   */
  'handshake-rate-limit': {
    perSecond: number | null;
    burst: number | null;
    cleanAtRate: number | null;
    rates: number[];
    window?: { count: number; seconds: number };
  };
  /** Connections without traffic closed after `seconds`; which heartbeats kept them alive. */
  'idle-timeout': { seconds: number; groups: HeartbeatGroupResult[] };
  /** Connections closed `seconds` after they opened, whatever the heartbeat. */
  'max-lifetime': { seconds: number; groups: HeartbeatGroupResult[] };
  /** The highest count held for the hold, to `resolution`; `failsAt` did not hold. */
  'exact-ceiling': { value: number; failsAt: number; resolution: number; steps: number };
  /** Every stage held: no limit up to `max` (the plan's maximum); with `rate` when ramped under a rate limit at it. */
  'no-limit': { max: number; rate?: number };
  /** The probe itself was the limit. */
  'probe-limited': { summary: string };
  /** The run failed (config error, unreachable): nothing to diagnose. */
  'probe-failure': { summary: string };
  /**
   * Whom a limit applies to: each source address or credential its own share (`source-address`, `credential`), or
   * all together (`global`), from `sources` sources compared (`by` addresses or credentials). `perScope`: a cap's
   * count per source, or for a rate limit the handshakes a source got through before it was refused; `admitted`:
   * what each source got, in the order tried; `limit`: the cap as the first source filled it, or the rate measured
   * from all the run's sources together.
   */
  'limit-scope': {
    scope: LimitScope;
    perScope: number;
    sources: number;
    by: ScopeKind;
    limit: ScopedLimit;
    admitted: number[];
  };
  /** An experiment could not decide. */
  undetermined: { about: ExperimentName; reason: string };
}

/** The kinds of findings. */
export type FindingKind = keyof FindingValuesByKind;

/** One finding: its kind and values, the experiment that found it, the evidence, what it cost, and its sentence. */
export type Finding = {
  [K in FindingKind]: {
    kind: K;
    values: FindingValuesByKind[K];
    experiment: ExperimentName;
    evidence: FindingEvidence;
    /** Seconds spent opening and holding connections for this finding (0 when the ramp's data sufficed). */
    probeSeconds: number;
    /** One plain sentence, see report.ts. */
    sentence: string;
  };
}[FindingKind];

/** The answer of `diagnose`. */
export type DiagnosisVerdict = 'explained' | 'no-limit-found' | 'inconclusive' | 'failed';

/**
 * The gates (--min-ceiling, regression) on the ceiling a diagnosis stands behind: `passed`, or which failed, with the
 * ceiling judged (at most that, for a failed gate judged on a count limit) and why.
 */
export interface DiagnosisGate {
  verdict: 'passed' | 'below-floor' | 'regressed';
  ceiling: number | null;
  reason: string | null;
}

/** A whole diagnosis: the ramp run it started from, the self-check and every finding. Holds no secret. */
export interface Diagnosis {
  verdict: DiagnosisVerdict;
  /** Why the verdict is what it is, in plain words. */
  reason: string;
  /** The gates' answer, which decides exit code 1 as for `run`; null when no ceiling could be judged. */
  gate: DiagnosisGate | null;
  /** The recorded ramp's id; null when the self-check refused the plan (nothing was sent or stored). */
  runId: string | null;
  targetId: string;
  url: string;
  findings: Finding[];
  /**
   * Seconds the ramp and the follow-up experiments took, and the pauses between experiment steps (Retry-After,
   * refills).
   */
  seconds: { ramp: number; experiments: number; waits: number };
  selfCheck: SelfCheck;
  /** The recorded ramp run; null when the self-check refused the plan. */
  run: RunResult | null;
}
