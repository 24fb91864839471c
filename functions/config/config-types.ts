/**
 * The shape of a validated ws-ceiling config file: every target, where and
 * when it runs, how it is probed and who is told. The schema in
 * `target-config.ts` is the only producer of these types; it fills every
 * default, so consumers never see a missing field except those marked optional.
 * Secret header values appear only as references, never as values.
 */
import type { HeartbeatSettings, Tolerance } from '../engine/types.js';

/** A header value: a plain (non-secret) string, or a reference to a Secrets Manager secret resolved at run time. */
export type HeaderValue = string | SecretReference;

/** A secret read at run time by the worker; its value never enters a payload, log, item or template. */
export interface SecretReference {
  /** Secrets Manager secret name (not ARN), e.g. `chat/probe-token`. */
  secretName: string;
  /** When the secret is a JSON object, the key whose value is used. */
  jsonKey?: string;
  /** Text put before the value, e.g. `Bearer `. */
  prefix?: string;
}

/** Who is told when an alarm fires. */
export type OnCallEndpoint = { kind: 'email'; address: string } | { kind: 'https'; url: string };

/** When a target runs. */
export interface ScheduleConfig {
  /** EventBridge Scheduler cron body with six fields, e.g. `0 2 * * ? *` (02:00 every day). */
  cron: string;
  /** IANA time zone the cron is read in, e.g. `Europe/Paris`. */
  timeZone: string;
  /**
   * A run is expected to report at least this often; none for this long pages
   * on-call (probe-missing). 1 to 168, and longer than the cron's longest gap plus a run's
   * reporting time, which (rounded up to whole hours) is also the default.
   */
  expectedEveryHours: number;
  /**
   * Minutes after each cron time at which each region's run starts (whole
   * minutes, 0 to 1440, every region of the target). Left out, the regions are
   * staggered in their config order, a run's worst-case duration plus a margin
   * apart (see region-starts.ts).
   */
  regionOffsetMinutes?: Record<string, number>;
}

/** The ramp of a target, normalised: `stages` is always filled (from `stages` or start/step/max). */
export interface PlanConfig {
  stages: number[];
  holdSeconds: number;
  connectRate: number;
  maxInFlight: number;
  handshakeTimeoutSeconds: number;
  shardSize: number;
  /** Safety cap: the last stage may not exceed it. */
  maxConnections: number;
  stopAtFirstFailingStage: boolean;
}

/**
 * The session each connection sets up after its upgrade, as `--init-message`, `--ready-when` and `--ready-timeout`
 * do locally. Init messages may be text (with `{{n}}`, `{{shard}}` or `{{uuid}}`) or secret references read by each
 * worker at run time.
 */
export interface SessionConfig {
  initMessages: HeaderValue[];
  /** Text the ready message contains, or `/regex/flags`; absent: a connection is open at its upgrade. */
  readyWhen?: string;
  /** Seconds a connection waits for the ready message: only with `readyWhen` (default 10). */
  readyTimeoutSeconds?: number;
}

/** Upgrade URLs signed with SigV4 by the worker's role (an API Gateway WebSocket API with IAM authorization). */
export interface SigV4AuthConfig {
  kind: 'sigv4';
  /** The signature's region: the API's, from its execute-api host name unless given. */
  region: string;
  /** Default `execute-api`. */
  service: string;
  /** The API the worker's role may `execute-api:Invoke` on `$connect`: from the host name unless given. */
  apiId: string;
}

/** One probed endpoint. */
export interface TargetConfig {
  /** `[a-z0-9][a-z0-9-]{0,47}`: used in resource names, metric dimensions and the runs table key. */
  id: string;
  /** ws:// or wss:// URL; its host must be in `allowedHosts`. No credentials in it: use headers. */
  url: string;
  /** AWS regions this target is probed from (one stack per region). */
  regions: string[];
  schedule: ScheduleConfig;
  /** False keeps the schedule deployed but disabled. */
  enabled: boolean;
  headers: Record<string, HeaderValue>;
  subprotocols: string[];
  heartbeat: HeartbeatSettings;
  /** A session to set up on each connection before it counts as open. */
  session?: SessionConfig;
  /** How upgrade URLs are signed. */
  auth?: SigV4AuthConfig;
  plan: PlanConfig;
  tolerance: Tolerance;
  /** Allowed fall under the baseline, a fraction from 0 to 1 (default 0.1). */
  regressionTolerance: number;
  /** Completed runs the baseline median is taken over (default 7). */
  baselineRuns: number;
  /** Declared minimum ceiling (pre-launch requirement); alarms below it. */
  floor?: number;
  /** Worker Lambda memory in MB (default 512). */
  workerMemoryMb: number;
  /**
   * Concurrent executions reserved for the target's worker Lambda (none by
   * default: the workers share the account's unreserved concurrency). At
   * least the workers one run starts.
   */
  reservedConcurrency?: number;
}

/** A whole validated config file. */
export interface WsCeilingConfig {
  /**
   * The deployment's name (e.g. `staging`): it goes into the stack name and
   * every physical name, so two deployments can share an account and region.
   * Without it the names are those of a single deployment.
   */
  name?: string;
  /** Hosts a target URL may point at: the deployed stack refuses any other (a safety allowlist). */
  allowedHosts: string[];
  /** Endpoints subscribed to each region's alarm topic (every target's alarms). */
  onCall: OnCallEndpoint[];
  targets: TargetConfig[];
}
