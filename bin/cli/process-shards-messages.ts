/**
 * What a run's parent and its probe processes say to each other while the
 * run goes on (over the sandbox's channel, as JSON): the parent hands each
 * process its shards of the plan, its verdict at each stage end and the kill
 * switch; a process says it is waiting, reports its shard events, the end of
 * each stage with its failures in it, and why it stopped, and answers its
 * call with its shards' results. One definition for both sides:
 * process-shards.ts (the parent) and process-shards-child.ts (each process).
 */
import type {
  HeartbeatSettings,
  ProbeSettings,
  ShardAbort,
  ShardEvent,
  ShardPlan,
  ShardResult,
  StagePlan,
} from '../../functions/engine/types.js';

/** Who a probe process is: the event of its call. */
export interface ProbeProcessEvent {
  /** From 0. */
  index: number;
  count: number;
  /** Its memory size, MB: what its self-check judges memory against (the sandbox stops it above). */
  memoryMb: number;
}

/** One process's share of a plan. */
export interface ProcessRun {
  /** The run's settings, header values included: they go to the connections only, never to a log or the store. */
  settings: ProbeSettings;
  stages: StagePlan[];
  /** This process's shards. */
  shards: ShardPlan[];
  /** Heartbeats of shards that differ from the settings' (matched groups), as [shard index, heartbeat]. */
  heartbeats: Array<[number, HeartbeatSettings]>;
  /** Local addresses the run's connections leave from in turn (1 when the system chooses), for its self-check. */
  sourceAddresses: number;
  /** Whether the parent wants the shard events (live progress). */
  events: boolean;
}

/** What the parent sends a probe process. */
export type ToProbeProcess =
  | { kind: 'run'; run: ProcessRun }
  /** Every process has ended `stage`: whether ramping stops after it, for the run as a whole. */
  | { kind: 'stage-verdict'; stage: number; stop: boolean }
  /** The run stopped (the kill switch, another process's failure): stop, close with 1000, answer. */
  | { kind: 'abort'; reason: ShardAbort }
  /** No run comes: answer with no results. */
  | { kind: 'dismiss' };

/** What a probe process sends the parent while its call runs. */
export type FromProbeProcess =
  /** Loaded and waiting for its run. */
  | { kind: 'waiting' }
  | { kind: 'events'; events: ShardEvent[] }
  /** Every shard of the process has ended `stage`, with this many failures counted in it. */
  | { kind: 'stage-end'; stage: number; failures: number }
  /** The process stopped the run itself (a fatal failure, its resource watch, a signal), the process named. */
  | { kind: 'abort'; reason: ShardAbort };

/** What a probe process's call returns. */
export interface ProbeProcessOutput {
  results: ShardResult[];
  /** The first stop signal the process got, if any. */
  signal?: NodeJS.Signals;
}
