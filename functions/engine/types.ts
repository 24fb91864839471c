/**
 * The shared vocabulary of ws-ceiling: settings, plan, per-connection records
 * and the run result. These are plain data shapes; every part (plan, shard
 * runner, classifier, analysis, store, CLI) speaks in them. The words follow
 * docs/architecture.md: stage, drop onset, ceiling, limiting factor, verdict.
 */
import type { SigV4Settings } from './execute-api.js';
import type { SessionRejection } from './session-handshake.js';
import type { PublicSessionSettings, SessionSettings } from './session-settings.js';
import type { SessionSetupFailure } from './session-setup.js';
import type { PublicSessionUrlSource, SessionUrlSourceFlags } from './session-url-source.js';

/** How the probe keeps an open connection alive while it holds it. */
export type HeartbeatSettings =
  | { kind: 'off' }
  | { kind: 'ping'; intervalSeconds: number; pongTimeoutSeconds: number }
  | { kind: 'message'; intervalSeconds: number; payload: string };

/** Failures tolerated per stage before the stage counts as not held. */
export type Tolerance = { kind: 'count'; value: number } | { kind: 'percent'; value: number };

/** Everything a probe run needs, validated. `url` and `headers` may hold secrets: never store or print them. */
export interface ProbeSettings {
  url: string;
  targetId: string;
  /** Cumulative global open-connection targets, strictly ascending. */
  stages: number[];
  holdSeconds: number;
  /** New connections per second for the whole run (all shards together). */
  connectRate: number;
  /** Handshakes in flight at once for the whole run. */
  maxInFlight: number;
  handshakeTimeoutSeconds: number;
  heartbeat: HeartbeatSettings;
  headers: Record<string, string>;
  subprotocols: string[];
  tolerance: Tolerance;
  /** Hard safety cap: the plan's maximum may not exceed it. */
  maxConnections: number;
  /** Most connections one shard (one process or Lambda) opens. */
  shardSize: number;
  /** Pre-launch gate: the run's verdict is `below-floor` under it. */
  minCeiling?: number;
  /** Stop ramping after the first stage that failed (default true). */
  stopAtFirstFailingStage: boolean;
  /** Allowed fall of the ceiling under its baseline before the verdict is `regressed`, a fraction (0.1 is 10 %). */
  regressionTolerance: number;
  /** Completed comparable runs the baseline is the median of. */
  baselineRuns: number;
  /** The `--simulate` spec when the target is the bundled simulator (its URL's port is gone after the run). */
  simulate?: string;
  /** Local addresses the connections leave from, in turn (`--source-address`); absent: the system's choice. */
  sourceAddresses?: string[];
  /**
   * The session each connection sets up after its upgrade (`--init-message`, `--ready-when`, `--ready-timeout`); its
   * init messages may hold secrets and templates.
   */
  session?: SessionSettings;
  /** Where each connection's URL or token comes from (`--session-url-from` and its options); may hold secrets. */
  sessionUrlSource?: SessionUrlSourceFlags;
  /** Sign each upgrade URL with SigV4 (`--sigv4`). */
  sigv4?: SigV4Settings;
  /** A second credential, header name to value, for diagnose's limit-scope experiment (`--alternate-header`). */
  alternateHeaders?: Record<string, string>;
}

/** One step of the ramp, with absolute epoch-millisecond times shared by every shard. */
export interface StagePlan {
  index: number;
  /** Global open connections this stage aims for. */
  target: number;
  /** Connections this stage opens across all shards (target minus the previous target). */
  newConnections: number;
  startAt: number;
  rampEndsAt: number;
  holdEndsAt: number;
}

/** One shard's share of the ramp. */
export interface ShardPlan {
  index: number;
  /** New connections this shard opens in each stage. */
  newPerStage: number[];
  /** This shard's connect rate (its share of the global rate). */
  connectRate: number;
  /** This shard's bound on handshakes in flight. */
  maxInFlight: number;
}

/** The whole run laid out before it starts. */
export interface ProbePlan {
  runId: string;
  targetId: string;
  startAt: number;
  endsAt: number;
  stages: StagePlan[];
  shards: ShardPlan[];
  holdSeconds: number;
  connectRate: number;
}

/** Who closed a connection that had opened. */
export type ClosedBy = 'server' | 'pong-timeout' | 'probe';

/** How an opened connection ended. */
export interface CloseRecord {
  /** When the connection was over: the server's close frame arrived, or its socket closed. */
  at: number;
  code: number;
  reason: string;
  /** False when the connection ended without a close frame (code 1006). */
  frameReceived: boolean;
  closedBy: ClosedBy;
  /**
   * When the probe started closing it (`closedBy` 'probe'): the server may free its place as soon as the probe's close
   * frame arrives, well before `at` when the probe's process is busy.
   */
  probeClosingAt?: number;
  /** Milliseconds since the connection opened. */
  ageMs: number;
  /** Milliseconds since the last frame received from the server (or since open). */
  sinceInboundMs: number;
  /** Milliseconds since the last frame the probe sent (or since open). */
  sinceOutboundMs: number;
  /**
   * ws's message when the server broke the protocol after the upgrade (a frame ws rejects: an invalid close code,
   * reserved bits, bad UTF-8); `code` is then the one ws closed with (1002, 1007 or 1009).
   */
  protocolError?: string;
}

/** What happened to one connection attempt's opening handshake. */
export type HandshakeOutcome =
  | 'opened'
  | 'rejected'
  | 'connect-error'
  | 'handshake-timeout'
  /** The session could not be set up before the upgrade: the URL provider failed, or the URL could not be signed. */
  | 'session-setup'
  /** The upgrade succeeded, but the session was rejected (error message, close) or not ready in time. */
  | 'session-rejected'
  /** The probe itself stopped the attempt (kill switch, abort): never a failure. */
  | 'cancelled';

/** Everything observed about one connection, with epoch-millisecond timestamps. */
export interface ConnectionRecord {
  shard: number;
  /** Sequence number within the shard, from 0. */
  id: number;
  stage: number;
  attemptedAt: number;
  /**
   * Milliseconds the connection's session set-up took before its upgrade was sent (waiting for the URL provider's
   * rate, its call, signing the URL); absent when there was none.
   */
  setupMs?: number;
  /** When TCP (and TLS) connected, if it did. */
  tcpConnectedAt?: number;
  outcome: HandshakeOutcome;
  /** When the handshake outcome was known (the open time for `opened`: its session's ready time, with one). */
  settledAt: number;
  /** Upgrade request to 101 or to the refusing HTTP response (after any session set-up). */
  handshakeMs?: number;
  /** Milliseconds from the 101 to the session's ready message (`--ready-when`). */
  readyMs?: number;
  /** Why the session was rejected (`session-rejected`). */
  session?: SessionRejection;
  /** Why the session could not be set up (`session-setup`). */
  setup?: SessionSetupFailure;
  /** HTTP status of a refused upgrade. */
  status?: number;
  /** `Retry-After` header of a refused upgrade, verbatim. */
  retryAfter?: string;
  /** Node error code (ECONNREFUSED, EMFILE, …) of a connect error. */
  errorCode?: string;
  errorMessage?: string;
  close?: CloseRecord;
}

/** Event-loop delay of the probe process while one stage ran. */
export interface LoopDelaySample {
  stage: number;
  p99Ms: number;
  maxMs: number;
}

/** Why a shard stopped before its plan was done. */
export interface ShardAbort {
  failureClass: FailureClass | 'interrupted';
  message: string;
}

/** What one shard returns: every record, its event-loop health and how it ended. */
export interface ShardResult {
  shard: number;
  records: ConnectionRecord[];
  loopDelay: LoopDelaySample[];
  stagesRun: number;
  aborted?: ShardAbort;
  /** When this shard saw the run stopped (it was aborted), epoch milliseconds: where an unfinished stage ended. */
  stoppedAt?: number;
  /**
   * True when every shard of the run ran in this one process (the local CLI), so more shards would not relieve the
   * probe; absent for a Lambda worker's shard.
   */
  sharesProcess?: boolean;
}

/** A stage decided while the shard runs, with this shard's new connections in it. */
export interface AdaptiveStage {
  stage: StagePlan;
  newConnections: number;
}

/** Something that happened in a shard, for live progress. */
export type ShardEvent =
  | { type: 'stage-started'; shard: number; stage: number }
  | { type: 'stage-ended'; shard: number; stage: number }
  /** A handshake settled; `failureClass` is set when it failed. */
  | { type: 'settled'; record: ConnectionRecord; failureClass?: FailureClass }
  /** An opened connection closed; `failureClass` is set when that was a drop. */
  | { type: 'closed'; record: ConnectionRecord; failureClass?: FailureClass };

/** A failure class: one per observable way a connection fails. See docs/concepts.md "Failure classes". */
export type FailureClass =
  | 'handshake-rejected'
  | 'handshake-timeout'
  | 'connect-error'
  | 'abnormal-closure'
  | 'server-close'
  | 'pong-timeout'
  | 'session-rejected'
  | 'session-setup'
  | 'probe-limited'
  | 'config-error'
  | 'unreachable';

/** What stopped the ramp. */
export type LimitingFactorKind =
  | 'concurrency-cap'
  | 'handshake-rate-limit'
  | 'idle-timeout'
  | 'max-lifetime'
  | 'server-degradation'
  | 'probe-limited'
  | 'config-error'
  | 'unreachable';

/**
 * The outcome of a run as a whole. `skipped`: a deployed run that found
 * another run of its target holding the run lock and probed nothing; it is
 * recorded, never a failure and never part of a baseline.
 */
export type Verdict = 'ok' | 'regressed' | 'below-floor' | 'inconclusive' | 'failed' | 'skipped';

/** Handshake latency percentiles in milliseconds (null when nothing completed). */
export interface LatencyPercentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/**
 * Failure counts, keyed by class, HTTP status, close code and connect error code of upgrades and drops; sessions
 * rejected after the upgrade and session set-ups that failed before it are counted apart, by their own keys
 * (session-setup.ts), only when there are some.
 */
export interface FailureCounts {
  total: number;
  byClass: Partial<Record<FailureClass, number>>;
  byStatus: Record<string, number>;
  byCloseCode: Record<string, number>;
  byErrorCode: Record<string, number>;
  /** Rejected sessions: `close 4429`, `error message`, `ready timeout`. */
  bySessionRejection?: Record<string, number>;
  /** Failed session set-ups: `HTTP 429` (the URL provider's), `timeout`, `ECONNREFUSED`, `bad response`, `signing`. */
  bySessionSetup?: Record<string, number>;
}

/** The first failure of the limiting class. */
export interface FirstFailure {
  at: string;
  openCount: number;
  failureClass: FailureClass;
  stage: number;
  status?: number;
  closeCode?: number;
  errorCode?: string;
  /** ws's message when the failure was a frame that broke the protocol after the upgrade. */
  protocolError?: string;
  /** The rejected session (its excerpt holds no secret). */
  session?: SessionRejection;
  /** The session set-up that failed. */
  setup?: SessionSetupFailure;
}

/** A spread of durations in seconds. */
export interface DurationSpread {
  count: number;
  medianSeconds: number;
  minSeconds: number;
  maxSeconds: number;
}

/** Handshake p95 in milliseconds of the first stage and of the failing stage (null when none completed there). */
export interface HandshakeP95 {
  first: number | null;
  failing: number | null;
}

/** The facts behind a limiting factor. */
export interface Evidence {
  failures: FailureCounts;
  firstFailure?: FirstFailure;
  /** Distinct `Retry-After` values seen on refused upgrades. */
  retryAfter?: string[];
  /** Connections that still opened after the first refusal (a rate limit lets some through). */
  openedAfterFirstRefusal?: number;
  /** Observed successful handshakes per second while refusals were happening. */
  sustainableHandshakesPerSecond?: number;
  /** Seconds since the last frame at which dropped connections closed. */
  idleAge?: DurationSpread;
  /** Seconds since open at which dropped connections closed. */
  connectionAge?: DurationSpread;
  /** Handshake p95 of the first stage and of the failing stage, for degradation. */
  handshakeP95Ms?: HandshakeP95;
  /** Probe self-limitation details: error codes or event-loop delay. */
  eventLoopDelayMaxMs?: number;
  message?: string;
}

/** What stopped the ramp, in a word and in plain words, with its evidence. */
export interface LimitingFactor {
  kind: LimitingFactorKind;
  /** One plain sentence a person can act on. */
  summary: string;
  /** For duration limits (idle timeout, max lifetime): the limit in seconds. */
  valueSeconds?: number;
  evidence: Evidence;
}

/** One stage as it happened. */
export interface StageSummary {
  index: number;
  target: number;
  /** Connections opened in this stage. */
  opened: number;
  /** Global open connections when the stage ended: hold over and handshakes settled, or the run stopped. */
  openAtEnd: number;
  /** Failures observed during this stage's window (handshake failures and drops). */
  failedByClass: Partial<Record<FailureClass, number>>;
  failed: number;
  handshakeMs: LatencyPercentiles;
  /** Time from the 101 to the session's ready message, when the run waited for one (`--ready-when`). */
  readyMs?: LatencyPercentiles;
  held: boolean;
}

/** The plan and settings of a run with every secret removed: safe to print and store. */
export interface PublicSettings {
  stages: number[];
  holdSeconds: number;
  connectRate: number;
  maxInFlight: number;
  handshakeTimeoutSeconds: number;
  heartbeat: { kind: HeartbeatSettings['kind']; intervalSeconds?: number; pongTimeoutSeconds?: number };
  headerNames: string[];
  subprotocols: string[];
  tolerance: Tolerance;
  maxConnections: number;
  shardSize: number;
  shards: number;
  minCeiling?: number;
  /** The `--simulate` spec when the run probed the bundled simulator, so the run can be repeated. */
  simulate?: string;
  /** Local addresses the connections left from, in turn (`--source-address`). */
  sourceAddresses?: string[];
  /** The session each connection set up: init messages counted, never shown. */
  session?: PublicSessionSettings;
  /** Where each connection's URL or token came from: the request and header names, no value. */
  sessionUrlSource?: PublicSessionUrlSource;
  /** How upgrade URLs were signed. */
  sigv4?: SigV4Settings;
  /** Names of the second credential's headers (`--alternate-header`), never their values. */
  alternateHeaderNames?: string[];
}

/** One failure drawn on the timeline chart. */
export interface TimelineFailure {
  /** Milliseconds since the run started. */
  atMs: number;
  failureClass: FailureClass;
  /** Global open connections at that moment. */
  open: number;
  status?: number;
  closeCode?: number;
  errorCode?: string;
  /** What a failed session is known by when it has no status or close code: `ready timeout`, `bad response`, … */
  detail?: string;
}

/** A stage window on the timeline, in milliseconds since the run started. */
export interface TimelineStage {
  index: number;
  target: number;
  startMs: number;
  rampEndsMs: number;
  holdEndsMs: number;
}

/** Open connections over time, small enough to store with the run and draw as a chart. */
export interface RunTimeline {
  /** Step points `[milliseconds since start, open connections]`, oldest first. */
  open: Array<[number, number]>;
  stages: TimelineStage[];
  /** Failures oldest first, at most a bounded number per class and code. */
  failures: TimelineFailure[];
  /** Failures left off the chart by that bound (they are still in `failures` counts). */
  failuresOmitted: number;
}

/** A run's ceiling against the ceilings of earlier comparable runs of the same target. */
export interface Baseline {
  /** Median ceiling of the earlier runs. */
  value: number;
  /** How many earlier runs the median is taken over. */
  runs: number;
  /** This run's ceiling divided by the baseline (null when this run has no ceiling). */
  ratio: number | null;
  /** The allowed fall under the baseline, as a fraction (0.1 is 10 %). */
  regressionTolerance: number;
}

/** A finished run as printed by `--json` and written to the store. Holds no secret. */
export interface RunResult {
  runId: string;
  targetId: string;
  /** The target URL with credentials and query values redacted. */
  url: string;
  region: string;
  startedAt: string;
  finishedAt: string;
  probeVersion: string;
  /**
   * Hash of the public settings that shape the measurement (not the URL, floor, safety cap or regression flags): runs
   * of a target with equal hashes are comparable.
   */
  configHash: string;
  verdict: Verdict;
  /** Why the verdict is what it is, in plain words. */
  verdictReason: string;
  ceiling: { value: number | null; reached: boolean };
  dropOnset: number | null;
  limitingFactor: LimitingFactor | null;
  stages: StageSummary[];
  failures: FailureCounts;
  handshakeMs: LatencyPercentiles;
  /** Time from the 101 to the session's ready message, when the run waited for one (`--ready-when`). */
  readyMs?: LatencyPercentiles;
  probe: { eventLoopDelayP99Ms: number | null; eventLoopDelayMaxMs: number | null };
  settings: PublicSettings;
  /** Null when there are too few comparable earlier runs, or this run is not comparable. */
  baseline: Baseline | null;
  timeline: RunTimeline;
}
