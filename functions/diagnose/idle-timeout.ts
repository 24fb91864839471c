/**
 * The idle-timeout experiment: connections that vanish a fixed time after
 * their last frame can be a gateway's idle timer or a missing heartbeat.
 * Three matched groups are opened side by side and held past the suspected
 * timeout: one without heartbeat, one with protocol pings, one with an
 * application message, both at half the suspected timeout. The silent group
 * gives the timeout; the others say which heartbeat, at which interval,
 * keeps connections alive. When every group dies at the same age, it is a
 * maximum lifetime instead, which no heartbeat prevents.
 */
import { percentile } from '../engine/percentiles.js';
import type { ConnectionRecord, HeartbeatSettings } from '../engine/types.js';
import { round } from '../engine/units.js';
import {
  maxExperimentConnections,
  openAndHold,
  startBudget,
  stoppedFinding,
  type ExperimentContext,
} from './experiment-probe.js';
import type { Finding, HeartbeatGroupResult } from './findings.js';
import { makeFinding } from './report.js';

/** Connections per group, at most (fewer when the plan's maximum is small). */
const GROUP_SIZE = 5;
/** Application heartbeat sent when the run has no --heartbeat-message of its own. */
const DEFAULT_HEARTBEAT_MESSAGE = 'ping';
/** Pong timeout of the ping group when the run does not ping. */
const DEFAULT_PONG_TIMEOUT_SECONDS = 10;

/** A group of the experiment: its heartbeat and its connections' records. */
export interface HeartbeatGroup {
  heartbeat: HeartbeatSettings;
  records: readonly ConnectionRecord[];
}

/** What the groups showed. */
export type IdleVerdict =
  | { kind: 'idle-timeout'; seconds: number; groups: HeartbeatGroupResult[] }
  | { kind: 'max-lifetime'; seconds: number; groups: HeartbeatGroupResult[] }
  | { kind: 'none'; groups: HeartbeatGroupResult[] };

/** The three heartbeats tried: none, protocol ping and application message, both every half `suspectedSeconds`. */
export function heartbeatGroups(suspectedSeconds: number, runHeartbeat: HeartbeatSettings): HeartbeatSettings[] {
  const intervalSeconds = Math.max(0.1, round(suspectedSeconds / 2, 1));
  const pongTimeoutSeconds =
    runHeartbeat.kind === 'ping' ? runHeartbeat.pongTimeoutSeconds : DEFAULT_PONG_TIMEOUT_SECONDS;
  const payload = runHeartbeat.kind === 'message' ? runHeartbeat.payload : DEFAULT_HEARTBEAT_MESSAGE;
  return [
    { kind: 'off' },
    { kind: 'ping', intervalSeconds, pongTimeoutSeconds },
    { kind: 'message', intervalSeconds, payload },
  ];
}

/**
 * Judges the groups: every group closed at one age (maximum lifetime, the
 * median age); else the silent group closed (idle timeout, the silent group's
 * median age, whether or not a heartbeat group kept its connections: the
 * group results say which did); else none, when the silent group kept all
 * its connections.
 */
export function judgeHeartbeatGroups(groups: readonly HeartbeatGroup[]): IdleVerdict {
  const results = groups.map(summarizeGroup);
  const silent = results.find((result) => result.heartbeat === 'off');
  const closedAges = groups.flatMap((group) => droppedAges(group.records));
  if (closedAges.length === 0 || !silent || silent.closedAfterSeconds === null)
    return { kind: 'none', groups: results };
  const everyGroupClosed = results.every((result) => result.kept < result.of);
  if (everyGroupClosed && isTight(closedAges))
    return { kind: 'max-lifetime', seconds: median(closedAges), groups: results };
  return { kind: 'idle-timeout', seconds: silent.closedAfterSeconds, groups: results };
}

/** Runs the experiment around a suspected timeout (seconds, from the ramp) and returns its finding. */
export async function runIdleTimeout(context: ExperimentContext, suspectedSeconds: number): Promise<Finding[]> {
  const secondsLeft = startBudget(context);
  const heartbeats = heartbeatGroups(suspectedSeconds, context.settings.heartbeat);
  const perGroup = Math.min(GROUP_SIZE, Math.floor(maxExperimentConnections(context.settings) / heartbeats.length));
  // Past the suspected timeout by half of it and a second, to the half second.
  const holdSeconds = Math.ceil((suspectedSeconds * 1.5 + 1) * 2) / 2;
  const count = perGroup * heartbeats.length;
  const rate = context.settings.connectRate;
  if (perGroup < 1 || count / rate + holdSeconds > secondsLeft()) {
    const reason =
      perGroup < 1
        ? 'the plan allows too few connections for three groups'
        : `holding past ${suspectedSeconds} s would take longer than the experiment budget of ` +
          `${context.budgetSeconds} s`;
    return [
      makeFinding({
        kind: 'undetermined',
        values: { about: 'idle-timeout', reason },
        experiment: 'idle-timeout',
        evidence: {},
        probeSeconds: 0,
      }),
    ];
  }
  context.onProgress(
    `idle timeout: holding ${heartbeats.length} groups of ${perGroup} for ${holdSeconds} s (no heartbeat, ` +
      'protocol ping, application message)',
  );
  const run = await openAndHold(context, { count, rate, holdSeconds, groups: heartbeats });
  const steps = [`${heartbeats.length} groups of ${perGroup} connections held ${holdSeconds} s side by side`];
  if (run.stop) return [stoppedFinding(context, 'idle-timeout', run.stop, run.probeSeconds, steps)];
  const verdict = judgeHeartbeatGroups(
    heartbeats.map((heartbeat, shard) => ({
      heartbeat,
      records: run.records.filter((record) => record.shard === shard),
    })),
  );
  const evidence = { steps: [...steps, ...verdict.groups.map(describeGroupResult)] };
  if (verdict.kind === 'none') {
    const reason = `no connection closed within ${holdSeconds} s, past the suspected ${suspectedSeconds} s`;
    return [
      makeFinding({
        kind: 'undetermined',
        values: { about: 'idle-timeout', reason },
        experiment: 'idle-timeout',
        evidence,
        probeSeconds: run.probeSeconds,
      }),
    ];
  }
  return [
    makeFinding({
      kind: verdict.kind,
      values: { seconds: verdict.seconds, groups: verdict.groups },
      experiment: 'idle-timeout',
      evidence,
      probeSeconds: run.probeSeconds,
    }),
  ];
}

function summarizeGroup(group: HeartbeatGroup): HeartbeatGroupResult {
  const opened = group.records.filter((record) => record.outcome === 'opened');
  const ages = droppedAges(group.records);
  return {
    heartbeat: group.heartbeat.kind,
    intervalSeconds: group.heartbeat.kind === 'off' ? null : group.heartbeat.intervalSeconds,
    kept: opened.length - ages.length,
    of: opened.length,
    closedAfterSeconds: ages.length ? median(ages) : null,
  };
}

/** Seconds since open at which the target (or a missing pong) ended a group's connections. */
function droppedAges(records: readonly ConnectionRecord[]): number[] {
  return records.flatMap((record) =>
    record.close && record.close.closedBy !== 'probe' ? [record.close.ageMs / 1000] : [],
  );
}

function describeGroupResult(result: HeartbeatGroupResult): string {
  const heartbeat =
    result.heartbeat === 'off'
      ? 'no heartbeat'
      : `${result.heartbeat === 'ping' ? 'protocol ping' : 'application message'} every ${result.intervalSeconds} s`;
  const closed = result.closedAfterSeconds === null ? '' : `, closed after ${result.closedAfterSeconds} s`;
  return `${heartbeat}: ${result.kept} of ${result.of} kept alive${closed}`;
}

/** Ages agree when they spread over at most 0.5 s or 10 % of their median. */
function isTight(ages: readonly number[]): boolean {
  return Math.max(...ages) - Math.min(...ages) <= Math.max(0.5, median(ages) * 0.1);
}

/** The median (nearest rank) to 0.01 s. */
function median(values: readonly number[]): number {
  return Math.round((percentile(values, 50) ?? 0) * 100) / 100;
}
