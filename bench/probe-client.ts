/**
 * The probe side of the benchmark: the workload run through the real
 * connection layer exactly as `ws-ceiling run` runs it, one stage planned by
 * planRun with the CLI's default shard size, every shard's runShard in this
 * process sharing one RampControl. The stage's hold is planned long enough
 * for any ramp; the benchmark ends it with the kill switch, as Ctrl-C does.
 */
import { runShard, shardInputOf } from '../functions/connection/shard-runner.js';
import { classifyRecord } from '../functions/engine/classify.js';
import { DEFAULT_SHARD_SIZE, planRun } from '../functions/engine/plan.js';
import { RampControl } from '../functions/engine/ramp-control.js';
import type { ConnectionRecord, ProbePlan, ProbeSettings, ShardEvent, ShardResult } from '../functions/engine/types.js';
import { countReason, type LoadClient, type Tally, type Workload } from './measure.js';

/** The same delay before the first stage as the CLI's. */
const START_DELAY_MS = 250;
/** Extra planned hold beyond the ramp bound and the measured hold, so the stage never ends on its own first. */
const HOLD_SLACK_SECONDS = 30;

/** The workload as `ws-ceiling run` settings: one stage of all connections, protocol pings, no tolerance. */
function probeSettings(workload: Workload): ProbeSettings {
  return {
    url: workload.url,
    targetId: 'bench',
    stages: [workload.connections],
    holdSeconds: workload.rampTimeoutSeconds + workload.holdSeconds + HOLD_SLACK_SECONDS,
    connectRate: workload.connectRate,
    maxInFlight: workload.maxInFlight,
    handshakeTimeoutSeconds: workload.handshakeTimeoutSeconds,
    heartbeat: { kind: 'ping', intervalSeconds: workload.pingSeconds, pongTimeoutSeconds: workload.pingSeconds },
    headers: {},
    subprotocols: [],
    tolerance: { kind: 'count', value: 0 },
    maxConnections: workload.connections,
    shardSize: DEFAULT_SHARD_SIZE,
    stopAtFirstFailingStage: true,
    regressionTolerance: 0.1,
    baselineRuns: 7,
    ...(workload.sourceAddresses?.length ? { sourceAddresses: workload.sourceAddresses } : {}),
  };
}

/** The run's plan, from the workload's start or shortly: its shards and their share of the rate and in-flight bound. */
export function probePlan(workload: Workload): ProbePlan {
  const startDelayMs = workload.startAt === undefined ? START_DELAY_MS : Math.max(0, workload.startAt - Date.now());
  return planRun(probeSettings(workload), { now: Date.now, newRunId: () => 'bench', startDelayMs });
}

/** A LoadClient driving every shard of the plan through runShard. */
export function createProbeClient(workload: Workload): LoadClient {
  const settings = probeSettings(workload);
  const control = new RampControl(settings.tolerance, settings.stages, settings.stopAtFirstFailingStage);
  let opened = 0;
  let open = 0;
  let settled = 0;
  let shardsDone: Promise<ShardResult[]> | undefined;

  return {
    get opened() {
      return opened;
    },
    get open() {
      return open;
    },
    ramp(onRampStart) {
      return new Promise<void>((resolve) => {
        let started = false;
        const onEvent = (event: ShardEvent) => {
          if (event.type === 'stage-started' && !started) {
            started = true;
            onRampStart();
          } else if (event.type === 'settled') {
            settled += 1;
            if (event.record.outcome === 'opened') {
              opened += 1;
              open += 1;
            }
            if (settled === workload.connections) resolve();
          } else if (event.type === 'closed') open -= 1;
        };
        control.signal.addEventListener('abort', () => resolve(), { once: true });
        const plan = probePlan(workload);
        shardsDone = Promise.all(
          plan.shards.map((shard) => runShard(shardInputOf(settings, plan.stages, shard), { control, onEvent })),
        );
      });
    },
    async close() {
      control.abort({ failureClass: 'interrupted', message: 'benchmark hold finished' });
      const shards = (await shardsDone) ?? [];
      return tallyRecords(shards.flatMap((shard) => shard.records));
    },
  };
}

function tallyRecords(records: readonly ConnectionRecord[]): Tally {
  const tally: Tally = { handshakeFailures: 0, drops: 0, byReason: {} };
  for (const record of records) {
    if (!classifyRecord(record, { anyOpenedBefore: true })) continue;
    if (record.outcome === 'opened') tally.drops += 1;
    else tally.handshakeFailures += 1;
    countReason(tally, reasonOf(record));
  }
  return tally;
}

function reasonOf(record: ConnectionRecord): string {
  if (record.close) return record.close.closedBy === 'pong-timeout' ? 'pong-timeout' : `close ${record.close.code}`;
  if (record.status !== undefined) return `HTTP ${record.status}`;
  return record.errorCode ?? record.outcome;
}
