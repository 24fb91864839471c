/**
 * One rehearsal of a deployed target on this machine (`ws-ceiling
 * rehearse`): the region's stack is synthesized, the target's state machine
 * definition is taken from the template and run by a local interpreter with
 * the execution input the target's schedule sends, every Lambda call runs
 * its bundle in a process of its own (rehearsal-tasks.ts), and the AWS
 * services are stood in for locally: DynamoDB by the embedded store under
 * --store (the template's tables, the runs table as the store's own), S3,
 * CloudWatch, SNS and Secrets Manager by one loopback endpoint. Afterwards it
 * gathers the run the record step stored, each worker's process and timing,
 * the metrics published and derived, the messages and objects the functions
 * wrote, and the state each of the target's alarms would take on them and the
 * store's history; the target's run lock left in the store is released
 * (rehearsal-lock.ts). Its stop signal is the kill switch, as `ws-ceiling
 * stop` is deployed: a stop request the workers poll; its kill signal stops
 * every process at once.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DynamoRunLocks } from '../../functions/adapters/dynamo-run-locks.js';
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import { DynamoStopRequests } from '../../functions/adapters/dynamo-stop-requests.js';
import { startEmbeddedDynamo } from '../../functions/adapters/embedded-dynamo.js';
import { createDeclaredTables, runDynamoTask } from '../../functions/adapters/rehearsal-tables.js';
import { WORKER_START_DELAY_SECONDS } from '../../functions/config/worker-budget.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
import { METRIC_NAMESPACE } from '../../functions/engine/metric-names.js';
import type { PutRunOutcome } from '../../functions/engine/run-store.js';
import { runDatapoints } from '../../functions/engine/run-metrics.js';
import type { RunResult, ShardResult } from '../../functions/engine/types.js';
import { evaluateAlarm, type AlarmDatapoint, type AlarmEvaluation } from '../../functions/rehearsal/alarm-evaluator.js';
import { resolvedTemplate, textOf, type CloudTemplate } from '../../functions/rehearsal/cloud-template.js';
import { derivedDatapoints } from '../../functions/rehearsal/derived-metrics.js';
import {
  startLocalAws,
  type CapturedDatapoint,
  type CapturedMessage,
  type WrittenObject,
} from '../../functions/rehearsal/local-aws-endpoint.js';
import {
  prepareDefinition,
  runStateMachine,
  type ExecutionRecord,
  type PreparedDefinition,
} from '../../functions/rehearsal/state-machine-run.js';
import {
  readRehearsalResources,
  type RehearsalResources,
  type TemplateAlarm,
  type TemplateStateMachine,
} from '../../functions/rehearsal/template-resources.js';
import { FUNCTION_ENVIRONMENT } from '../../functions/steps/function-environment.js';
import type { WorkerOutput } from '../../functions/steps/step-payloads.js';
import { LOCAL_RUNS_TABLE } from './local-store.js';
import type { PlannedFault, RehearseOptions } from './rehearse-options.js';
import { heldLock, releaseLeftLock, type RehearsalLock } from './rehearsal-lock.js';
import { rehearsalTasks, type RehearsalCall } from './rehearsal-tasks.js';

/** Account id of the rehearsal's ARNs: an offline synth leaves the account open. */
const REHEARSAL_ACCOUNT = '000000000000';

/** The region's stack as synthesized: its template and where its code assets are. */
export interface SynthesizedRegion {
  stackName: string;
  template: unknown;
  /** The folder of a code asset, by its S3 key. */
  assetFolder(codeKey: string): string | undefined;
  /** Removes the cloud assembly. */
  remove(): void;
}

/** Synthesizes the stack of one region of a config, offline (bin/rehearse-synth.ts). */
export type RegionSynthesizer = (options: RehearseOptions) => Promise<SynthesizedRegion>;

/** One worker of the rehearsal (a call inside the state machine's map). */
export interface WorkerRow {
  shard: number;
  pid: number;
  /** Epoch ms: the process was started; its first connection attempt (null when it made none). */
  startedAt: number;
  firstStageAt: number | null;
  /** Milliseconds from its planned first stage to its first attempt. */
  offsetMs: number | null;
  coldStartMs: number | null;
  /** Connections it opened (null when it returned nothing). */
  connections: number | null;
  /** Its error as Lambda reports it, when it failed. */
  error?: string;
  /** How late it said it started (`startedLateMs` of its output, past the worker's threshold), else null. */
  startedLateMs: number | null;
}

/** Everything a rehearsal found. */
export interface RehearsalOutcome {
  stackName: string;
  stateMachine: TemplateStateMachine;
  notes: string[];
  execution: ExecutionRecord;
  run?: RunResult;
  stored?: PutRunOutcome;
  workers: WorkerRow[];
  /** Largest gap between the workers' first attempts, ms (null with fewer than two). */
  startSkewMs: number | null;
  calls: RehearsalCall[];
  published: CapturedDatapoint[];
  derived: AlarmDatapoint[];
  alarms: AlarmEvaluation[];
  /** Alarms of the template that watch nothing this rehearsal ran, each with its metric. */
  otherAlarms: string[];
  messages: CapturedMessage[];
  /** Objects the functions wrote to S3 (shard results, the report). */
  objects: WrittenObject[];
  /** The target's run lock: found held at the start, released at exit. */
  lock: RehearsalLock;
  unsupported: string[];
  /** Earlier runs of the target in this region read from the store for the alarms. */
  historyRuns: number;
  logFile: string;
  /** True when the run was asked to stop (Ctrl-C). */
  stopRequested: boolean;
}

/** How a rehearsal is stopped from outside: the CLI wires them to Ctrl-C and SIGTERM. */
export interface RehearsalControl {
  /** The kill switch: a stop request the workers poll, as `ws-ceiling stop` writes one deployed. */
  stop: AbortSignal;
  /** Stops every call at once (the execution then fails without a run). */
  kill: AbortSignal;
}

/** Runs the rehearsal; `progress` gets a line at each step (stderr). */
export async function rehearse(
  options: RehearseOptions,
  synthesize: RegionSynthesizer,
  progress: (line: string) => void,
  control: RehearsalControl,
): Promise<RehearsalOutcome> {
  progress(`Synthesizing the stack of ${options.region} (esbuild bundles the functions)…`);
  const synthesized = await synthesize(options);
  const dynamo = await startEmbeddedDynamo({ directory: options.store });
  let local: Awaited<ReturnType<typeof startLocalAws>> | undefined;
  let locks: DynamoRunLocks | undefined;
  const lock: RehearsalLock = {};
  try {
    const resolved = resolvedTemplate(synthesized.template as CloudTemplate, {
      stackName: synthesized.stackName,
      region: options.region,
      account: REHEARSAL_ACCOUNT,
    });
    const resources = readRehearsalResources(resolved);
    const { stateMachine, input } = executionOf(resources, options);
    const prepared = prepareDefinition(stateMachine.definition);
    checkFaults(options.faults, prepared, stateMachine.name);
    const { runsTable, renamedTables, note: tableNote } = storeTables(resources);
    await createDeclaredTables(
      dynamo.client,
      resources.tables.map((table) => ({ ...table, name: renamedTables.get(table.name) ?? table.name })),
    );
    const runLocks = new DynamoRunLocks({ client: dynamo.client, tableName: runsTable });
    locks = runLocks;
    const found = await heldLock(runLocks, options.target.id, Date.now());
    if (found) lock.foundAtStart = found;
    local = await startLocalAws({
      s3Folder: path.join(options.store, 'rehearsal-s3'),
      buckets: resources.buckets,
      topics: resources.topics,
      secrets: options.secrets,
    });
    const logFile = logFileOf(options);
    const shiftMs = (WORKER_START_DELAY_SECONDS - options.startDelaySeconds) * 1000;
    const stopRequests = new DynamoStopRequests({ client: dynamo.client, tableName: runsTable });
    let stopWritten: Promise<void> | undefined;
    const requestStop = (): void => {
      progress('Stop requested: the workers stop opening, close with 1000 and return.');
      stopWritten = stopRequests.requestStop(options.target.id, new Date());
    };
    if (control.stop.aborted) requestStop();
    else control.stop.addEventListener('abort', requestStop, { once: true });
    const localAws = local;
    const tasks = rehearsalTasks({
      functions: resources.functions,
      assetFolder: (key) => synthesized.assetFolder(key),
      region: options.region,
      endpoints: { aws: localAws.endpoint, dynamo: dynamo.endpoint },
      ...(shiftMs > 0 ? { clockOffsetMs: -shiftMs } : {}),
      renamedTables,
      faults: options.faults,
      signal: control.kill,
      log: (name, line) => appendFileSync(logFile, `${name} ${line}\n`),
      dynamoTask: (action, parameters) => runDynamoTask(dynamo.client, action, renamedIn(parameters, renamedTables)),
      publish: (message) => localAws.publish(message),
    });
    progress(`Running ${stateMachine.name} from the template on this machine (log: ${logFile})…`);
    const execution = await runStateMachine(prepared, input, tasks.invoke, control.kill);
    control.stop.removeEventListener('abort', requestStop);
    await stopWritten;
    const released = await releaseLeftLock(runLocks, options.target.id);
    if (released) lock.releasedAtExit = released;
    const notes = [
      ...prepared.notes,
      ...execution.notes,
      ...(tableNote ? [tableNote] : []),
      ...(shiftMs > 0 ? [startDelayNote(options.startDelaySeconds, shiftMs, tasks.shiftedStates)] : []),
    ];
    const store = new DynamoRunStore({ client: dynamo.client, tableName: runsTable });
    const runId = (execution.output as { runId?: unknown } | undefined)?.runId;
    const history = await store.latestRuns(options.target.id, 200);
    const run = history.find((candidate) => candidate.runId === runId);
    const earlier = history.filter((candidate) => candidate.region === options.region && candidate.runId !== runId);
    const workers = workerRows(tasks.calls, resources.buckets, path.join(options.store, 'rehearsal-s3'));
    const derived = derivedDatapoints({
      stateMachineArn: stateMachine.arn,
      status: execution.status,
      startedAt: execution.startedAt,
      endedAt: execution.endedAt,
      calls: tasks.calls.map((call) => ({
        functionName: call.functionName,
        startedAt: call.sandbox.readyAt ?? call.sandbox.spawnedAt,
        endedAt: call.sandbox.endedAt,
        failed: !call.sandbox.outcome.ok,
      })),
    });
    const datapoints = [...localAws.metrics, ...derived, ...earlier.flatMap(storedDatapoints)];
    const definitionText = JSON.stringify(stateMachine.definition);
    const watched = new Set([
      options.target.id,
      stateMachine.arn,
      stateMachine.name,
      ...resources.functions.filter((fn) => definitionText.includes(fn.arn)).map((fn) => fn.name),
      ...tasks.calls.map((c) => c.functionName),
    ]);
    const evaluatedAt = Date.now();
    const relevant = resources.alarms.filter((alarm) =>
      dimensionValuesOf(alarm.properties).some((v) => watched.has(v)),
    );
    const firsts = workers.flatMap((worker) => (worker.firstStageAt === null ? [] : [worker.firstStageAt]));
    return {
      stackName: synthesized.stackName,
      stateMachine,
      notes,
      execution,
      ...(run ? { run, stored: storedOutcomeOf(execution.output) } : {}),
      workers,
      startSkewMs: firsts.length > 1 ? Math.max(...firsts) - Math.min(...firsts) : null,
      calls: tasks.calls,
      published: localAws.metrics,
      derived,
      alarms: relevant.map((alarm) => evaluateAlarm(alarm.name, alarm.properties, datapoints, evaluatedAt)),
      otherAlarms: resources.alarms.filter((alarm) => !relevant.includes(alarm)).map(otherAlarmOf),
      messages: localAws.messages,
      objects: localAws.objects,
      lock,
      unsupported: localAws.unsupported,
      historyRuns: earlier.length,
      logFile,
      stopRequested: stopWritten !== undefined,
    };
  } finally {
    // Also when the rehearsal itself failed: its lock must not make the next rehearsal skip.
    if (locks && !lock.releasedAtExit) await releaseLeftLock(locks, options.target.id).catch(() => undefined);
    await local?.stop();
    await dynamo.stop();
    synthesized.remove();
  }
}

/**
 * The runs table of the store: the table the functions' runs-table variable
 * names is kept as the store's own runs table (the one `history` and
 * `report --store` read), so a config with a `name`, whose table is
 * `ws-ceiling-<name>-runs`, is rehearsed into the same history; the note says so.
 */
function storeTables(resources: RehearsalResources): {
  runsTable: string;
  renamedTables: Map<string, string>;
  note?: string;
} {
  const declared = resources.functions
    .map((fn) => fn.environment[FUNCTION_ENVIRONMENT.runsTable])
    .find((name): name is string => name !== undefined);
  if (declared === undefined || declared === LOCAL_RUNS_TABLE)
    return { runsTable: LOCAL_RUNS_TABLE, renamedTables: new Map() };
  return {
    runsTable: LOCAL_RUNS_TABLE,
    renamedTables: new Map([[declared, LOCAL_RUNS_TABLE]]),
    note:
      `The runs table ${declared} is the store's ${LOCAL_RUNS_TABLE} here (the functions' ` +
      `${FUNCTION_ENVIRONMENT.runsTable} says so), where history and report --store read runs.`,
  };
}

/** A state machine task's DynamoDB parameters with a renamed table's local name. */
function renamedIn(parameters: unknown, renamed: ReadonlyMap<string, string>): unknown {
  const table = (parameters as { TableName?: unknown } | null)?.TableName;
  const local = typeof table === 'string' ? renamed.get(table) : undefined;
  return local === undefined ? parameters : { ...(parameters as object), TableName: local };
}

/** Throws an InvalidInputError on --fault naming a state that is no Task state of the definition outside its map. */
function checkFaults(faults: readonly PlannedFault[], prepared: PreparedDefinition, machine: string): void {
  const outside = [...prepared.tasks].filter(([, task]) => !task.inMap).map(([name]) => name);
  const wrong = faults.find((fault) => typeof fault.on === 'string' && !outside.includes(fault.on));
  if (wrong) {
    throw new InvalidInputError(
      '--fault',
      `"${wrong.spec}" names no Task state of ${machine} outside its map (those are ${outside.join(', ')}); ` +
        'a worker is named by its shard number',
    );
  }
}

/** The note of a shortened start delay: which states ran with the clock set back. */
function startDelayNote(seconds: number, shiftMs: number, states: ReadonlySet<string>): string {
  const which = states.size === 0 ? 'no state' : `the ${[...states].join(', ')} state${states.size === 1 ? '' : 's'}`;
  return (
    `The first stage starts ${seconds} s after planning instead of the deployed ${WORKER_START_DELAY_SECONDS} s ` +
    `(--start-delay): ${which} ran with the clock ${shiftMs / 1000} s behind.`
  );
}

/** An alarm the rehearsal did not evaluate, with what it watches. */
function otherAlarmOf(alarm: TemplateAlarm): string {
  const { Namespace, MetricName, Metrics } = alarm.properties as {
    Namespace?: unknown;
    MetricName?: unknown;
    Metrics?: unknown;
  };
  const metric =
    typeof MetricName === 'string'
      ? `${textOf(Namespace)} ${MetricName}`
      : Array.isArray(Metrics)
        ? 'metric math'
        : 'its metric';
  return `${alarm.name} (${metric})`;
}

/** The target's state machine (the one its schedule starts) and the input the schedule sends, with --url applied. */
function executionOf(
  resources: RehearsalResources,
  options: RehearseOptions,
): { stateMachine: TemplateStateMachine; input: unknown } {
  for (const schedule of resources.schedules) {
    const input = JSON.parse(schedule.input ?? '{}') as { target?: { id?: string; url?: string } };
    if (input.target?.id !== options.target.id) continue;
    const stateMachine = resources.stateMachines.find((candidate) => candidate.arn === schedule.targetArn);
    if (!stateMachine) break;
    if (options.url !== undefined) input.target.url = options.url;
    return { stateMachine, input };
  }
  throw new InvalidInputError(
    '--target-id',
    `the synthesized stack of ${options.region} has no schedule starting a state machine for target ` +
      options.target.id,
  );
}

/** The workers of the execution: the Lambda calls inside its map, with their first attempt from their shard results. */
function workerRows(calls: readonly RehearsalCall[], buckets: readonly string[], s3Folder: string): WorkerRow[] {
  return calls
    .filter((call) => call.inMap)
    .map((call, index) => {
      const output = call.sandbox.outcome.ok ? (call.sandbox.outcome.value as Partial<WorkerOutput>) : undefined;
      const records = output?.resultKey ? shardRecordsOf(output.resultKey, buckets, s3Folder) : undefined;
      const firstStageAt = records?.length ? Math.min(...records.map((record) => record.attemptedAt)) : null;
      const plannedAt = (call.input as { stages?: Array<{ startAt?: number }> }).stages?.[0]?.startAt;
      const offsetMs = firstStageAt !== null && plannedAt !== undefined ? firstStageAt - plannedAt : null;
      return {
        shard: call.shard ?? index,
        pid: call.sandbox.pid,
        startedAt: call.sandbox.spawnedAt,
        firstStageAt,
        offsetMs,
        coldStartMs: call.sandbox.coldStartMs,
        connections: typeof output?.opened === 'number' ? output.opened : null,
        ...(call.sandbox.outcome.ok
          ? {}
          : { error: `${call.sandbox.outcome.error.errorType}: ${call.sandbox.outcome.error.errorMessage}` }),
        startedLateMs: typeof output?.startedLateMs === 'number' ? output.startedLateMs : null,
      };
    })
    .sort((a, b) => a.shard - b.shard);
}

/** What the record step said of its write: `duplicate` when a retry found the run already stored. */
function storedOutcomeOf(output: unknown): PutRunOutcome {
  return (output as { stored?: unknown } | undefined)?.stored === 'duplicate' ? 'duplicate' : 'written';
}

/** The connection records of a shard result object, from whichever bucket holds it. */
function shardRecordsOf(key: string, buckets: readonly string[], folder: string): ShardResult['records'] | undefined {
  for (const bucket of buckets) {
    try {
      return (JSON.parse(readFileSync(path.join(folder, bucket, ...key.split('/')), 'utf8')) as ShardResult).records;
    } catch {
      // Not in this bucket.
    }
  }
  return undefined;
}

/** A stored run's datapoints as the record step published them. */
function storedDatapoints(run: RunResult): AlarmDatapoint[] {
  return runDatapoints(run).map((point) => ({
    namespace: METRIC_NAMESPACE,
    name: point.name,
    dimensions: point.dimensions,
    timestamp: point.timestamp.getTime(),
    unit: point.unit,
    values: [{ value: point.value, count: 1 }],
  }));
}

/** Every dimension value an alarm's metrics name. */
function dimensionValuesOf(properties: Record<string, unknown>): string[] {
  const lists: unknown[] = [properties.Dimensions];
  for (const query of (properties.Metrics ?? []) as Array<{ MetricStat?: { Metric?: { Dimensions?: unknown } } }>)
    lists.push(query.MetricStat?.Metric?.Dimensions);
  return lists.flatMap((list) =>
    ((list ?? []) as Array<{ Value?: unknown }>).map((dimension) => String(dimension.Value)),
  );
}

/** Where the functions' log lines of this rehearsal go. */
function logFileOf(options: RehearseOptions): string {
  const folder = path.join(options.store, 'rehearsal-logs');
  mkdirSync(folder, { recursive: true });
  return path.join(folder, `${new Date().toISOString().replace(/[:.]/g, '-')}-${options.target.id}.log`);
}
