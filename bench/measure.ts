/**
 * Measures one load client the same way whichever it is (the probe's
 * runShard or plain ws): RSS before, then the ramp timed with the process's
 * CPU around it, then a hold with protocol pings while the event-loop delay
 * is sampled, then RSS while everything is held, then a close with 1000 that
 * tallies every connection that failed or dropped without being asked to.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/** The work both clients do, identically. */
export interface Workload {
  url: string;
  connections: number;
  /** New connections per second. */
  connectRate: number;
  /** Opening handshakes in flight at once. */
  maxInFlight: number;
  handshakeTimeoutSeconds: number;
  /** Protocol ping interval while connections are open; a pong later than one interval ends the connection. */
  pingSeconds: number;
  /** Seconds every connection is held once the ramp has settled. */
  holdSeconds: number;
  /** Bound on the ramp; past it the hold starts anyway and the unsettled attempts count as not held. */
  rampTimeoutSeconds: number;
  /** Epoch milliseconds the ramp starts at, so clients in several processes start together; now when absent. */
  startAt?: number;
  /** Local addresses the connections leave from in turn (`--source-address`); absent: the system's choice. */
  sourceAddresses?: string[];
}

/** What went wrong along the way: any of it is a false drop on a loopback server that never refuses or closes. */
export interface Tally {
  /** Handshakes that failed (refused, error, timeout). */
  handshakeFailures: number;
  /** Open connections that ended without the client asking (server close, 1006, missed pong). */
  drops: number;
  /** Failures and drops by error code, HTTP status, close code or `pong-timeout`. */
  byReason: Record<string, number>;
}

/** A client under measurement. */
export interface LoadClient {
  /**
   * Opens the workload's connections; calls `onRampStart` just before the first attempt; resolves once every attempt
   * has settled or the client stopped on its own.
   */
  ramp(onRampStart: () => void): Promise<void>;
  /** Handshakes that succeeded so far. */
  readonly opened: number;
  /** Connections open now. */
  readonly open: number;
  /** Ends every connection with 1000 (cancelling attempts still in flight) and resolves once all have ended. */
  close(): Promise<Tally>;
}

/** The figures of one client run. */
export interface ClientMeasurement {
  connections: number;
  opened: number;
  /** Connections open when the hold ended. */
  heldAtEnd: number;
  /** Handshake failures plus drops. */
  falseDrops: number;
  byReason: Record<string, number>;
  /** False when the ramp did not settle within its bound. */
  rampSettled: boolean;
  rampSeconds: number;
  handshakesPerSecond: number;
  /** User plus system CPU of the client process during the ramp, per successful handshake. */
  cpuMicrosPerHandshake: number;
  /** RSS while holding less RSS before the ramp (both after a full GC), per 1,000 held connections. */
  rssMiBPerThousand: number;
  /** p99 of the event-loop delay while holding with pings (10 ms sampling, as the probe samples itself). */
  loopDelayP99Ms: number;
  /** Epoch milliseconds of the first attempt and of the ramp's end, to combine clients in several processes. */
  rampStartedAt: number;
  rampEndedAt: number;
  /** User plus system CPU of the ramp, µs, and RSS held less RSS before, bytes: the figures above, unscaled. */
  cpuMicros: number;
  rssHeldBytes: number;
}

/** Sampling interval of the event-loop delay monitor, the same as the shard runner's. */
const LOOP_DELAY_RESOLUTION_MS = 10;
const MIB = 1024 * 1024;

/** Runs the workload through `client` and returns its figures. */
export async function measureClient(client: LoadClient, workload: Workload): Promise<ClientMeasurement> {
  collectGarbage();
  const rssBefore = process.memoryUsage.rss();
  let rampStartedAt = performance.now();
  let cpuAtStart = process.cpuUsage();
  const rampSettled = await settlesWithin(
    client.ramp(() => {
      rampStartedAt = performance.now();
      cpuAtStart = process.cpuUsage();
    }),
    workload.rampTimeoutSeconds * 1000,
  );
  const rampEndedAt = performance.now();
  const rampSeconds = (rampEndedAt - rampStartedAt) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  const opened = client.opened;

  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  loopDelay.enable();
  await sleep(workload.holdSeconds * 1000);
  loopDelay.disable();
  const heldAtEnd = client.open;
  collectGarbage();
  const rssHeld = process.memoryUsage.rss();

  const tally = await client.close();
  return {
    connections: workload.connections,
    opened,
    heldAtEnd,
    falseDrops: tally.handshakeFailures + tally.drops,
    byReason: tally.byReason,
    rampSettled,
    rampSeconds,
    handshakesPerSecond: opened / rampSeconds,
    cpuMicrosPerHandshake: (cpu.user + cpu.system) / Math.max(1, opened),
    rssMiBPerThousand: ((rssHeld - rssBefore) / MIB / Math.max(1, heldAtEnd)) * 1000,
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    rampStartedAt: performance.timeOrigin + rampStartedAt,
    rampEndedAt: performance.timeOrigin + rampEndedAt,
    cpuMicros: cpu.user + cpu.system,
    rssHeldBytes: rssHeld - rssBefore,
  };
}

/**
 * One client's figures from its parts in several processes, measured over the
 * same span: the ramp from the first process's first attempt to the last
 * process's end, the CPU and RSS of all of them, the worst event-loop delay.
 */
export function combineMeasurements(parts: readonly ClientMeasurement[]): ClientMeasurement {
  const sum = (pick: (part: ClientMeasurement) => number) => parts.reduce((total, part) => total + pick(part), 0);
  const byReason: Record<string, number> = {};
  for (const part of parts)
    for (const [reason, count] of Object.entries(part.byReason)) byReason[reason] = (byReason[reason] ?? 0) + count;
  const rampStartedAt = Math.min(...parts.map((part) => part.rampStartedAt));
  const rampEndedAt = Math.max(...parts.map((part) => part.rampEndedAt));
  const rampSeconds = (rampEndedAt - rampStartedAt) / 1000;
  const opened = sum((part) => part.opened);
  const heldAtEnd = sum((part) => part.heldAtEnd);
  const cpuMicros = sum((part) => part.cpuMicros);
  const rssHeldBytes = sum((part) => part.rssHeldBytes);
  return {
    connections: sum((part) => part.connections),
    opened,
    heldAtEnd,
    falseDrops: sum((part) => part.falseDrops),
    byReason,
    rampSettled: parts.every((part) => part.rampSettled),
    rampSeconds,
    handshakesPerSecond: opened / rampSeconds,
    cpuMicrosPerHandshake: cpuMicros / Math.max(1, opened),
    rssMiBPerThousand: (rssHeldBytes / MIB / Math.max(1, heldAtEnd)) * 1000,
    loopDelayP99Ms: Math.max(...parts.map((part) => part.loopDelayP99Ms)),
    rampStartedAt,
    rampEndedAt,
    cpuMicros,
    rssHeldBytes,
  };
}

/** Counts one failure or drop under `reason`. */
export function countReason(tally: Tally, reason: string): void {
  tally.byReason[reason] = (tally.byReason[reason] ?? 0) + 1;
}

/** A full garbage collection when node runs with --expose-gc (the benchmark always starts clients so). */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Whether `work` settles within `ms`; the timer is cleared either way. */
export async function settlesWithin(work: Promise<void>, ms: number): Promise<boolean> {
  const controller = new AbortController();
  const timedOut = sleep(ms, false, { signal: controller.signal }).catch(() => false);
  const settled = await Promise.race([work.then(() => true), timedOut]);
  controller.abort();
  return settled;
}
