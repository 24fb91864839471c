/**
 * What `ws-ceiling rehearse` prints: the run as `run` prints it, the
 * execution's states, the workers (process, cold start, first stage against
 * the planned start, connections, a late start as the worker reported it),
 * the metrics published, the messages to on-call and the objects written,
 * what became of the run lock, and each alarm's state with its reason; or,
 * with --json, one object of the documented shape (the messages are in the
 * text only). Nothing shown comes from a secret: the run and the messages
 * are secret-free, and the functions' own log lines go to the log file only.
 */
import { formatMsAsSeconds } from '../../functions/engine/units.js';
import type { RunResult } from '../../functions/engine/types.js';
import type { CapturedMessage, WrittenObject } from '../../functions/rehearsal/local-aws-endpoint.js';
import type { RehearseOptions } from './rehearse-options.js';
import type { RehearsalProblem } from './rehearsal-preflight.js';
import type { RehearsalOutcome } from './rehearsal.js';
import { storeFlag } from './shared-options.js';
import { describeResult, describeStored } from './summary.js';

/** The --json document of a rehearsal. */
export interface RehearsalJson {
  run: RunResult | null;
  workers: Array<{
    shard: number;
    pid: number;
    startedAt: string;
    firstStageAt: string | null;
    connections: number | null;
  }>;
  metrics: Array<{ name: string; value: number; unit: string; dimensions: Record<string, string> }>;
  alarms: Array<{ name: string; state: string; reason: string }>;
  execution: { status: string; states: Array<{ name: string; enteredAt: string; exitedAt: string | null }> };
}

/** The rehearsal as the --json document. */
export function rehearsalJson(outcome: RehearsalOutcome): RehearsalJson {
  return {
    run: outcome.run ?? null,
    workers: outcome.workers.map((worker) => ({
      shard: worker.shard,
      pid: worker.pid,
      startedAt: iso(worker.startedAt),
      firstStageAt: worker.firstStageAt === null ? null : iso(worker.firstStageAt),
      connections: worker.connections,
    })),
    metrics: outcome.published.map((point) => ({
      name: point.name,
      value: point.values[0]?.value ?? 0,
      unit: point.unit,
      dimensions: point.dimensions,
    })),
    alarms: outcome.alarms.map(({ name, state, reason }) => ({ name, state, reason })),
    execution: {
      status: outcome.execution.status,
      states: outcome.execution.states.map((state) => ({
        name: state.name,
        enteredAt: iso(state.enteredAt),
        exitedAt: state.exitedAt === null ? null : iso(state.exitedAt),
      })),
    },
  };
}

/** The rehearsal in plain words. */
export function describeRehearsal(outcome: RehearsalOutcome, options: RehearseOptions): string {
  const { execution } = outcome;
  const lines = [
    `Rehearsal of ${options.target.id} in ${options.region}: state machine ${outcome.stateMachine.name} of stack ` +
      `${outcome.stackName}, run on this machine`,
    `  ${options.url === undefined ? 'the configured URL' : `${options.url} (--url)`}, ` +
      `${outcome.workers.length} worker process${outcome.workers.length === 1 ? '' : 'es'}, first stage ` +
      `${options.startDelaySeconds} s after planning`,
    ...outcome.notes.map((note) => `  Note: ${note}`),
    ...options.faults.map((fault) => `  Fault played: ${fault.spec}`),
    '',
  ];
  if (outcome.run) {
    lines.push(describeResult(outcome.run), '');
    lines.push(
      describeStored(outcome.stored ?? 'written', outcome.run.targetId, {
        store: options.store,
        historyFlags: storeFlag(options.store),
      }),
      '',
    );
  } else {
    lines.push('No run was recorded: the execution did not reach its record step.', '');
  }
  const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  lines.push(
    `Execution: ${execution.status} in ${seconds(execution.endedAt - execution.startedAt)}` +
      (execution.error ? ` (${execution.error}: ${execution.cause ?? ''})` : ''),
  );
  lines.push(
    table([
      ['state', 'entered', 'left'],
      ...execution.states.map((state) => [
        state.name,
        `+${seconds(state.enteredAt - execution.startedAt)}`,
        state.exitedAt === null ? '–' : `+${seconds(state.exitedAt - execution.startedAt)}`,
      ]),
    ]),
    '',
  );
  lines.push('Workers (one process each; first stage: first connection attempt against the planned start)');
  lines.push(
    table([
      ['shard', 'pid', 'cold start ms', 'first stage', 'connections', ''],
      ...outcome.workers.map((worker) => [
        String(worker.shard),
        String(worker.pid),
        worker.coldStartMs === null ? '–' : String(Math.round(worker.coldStartMs)),
        worker.offsetMs === null ? '–' : `${worker.offsetMs >= 0 ? '+' : ''}${seconds(worker.offsetMs)}`,
        worker.connections === null ? '–' : String(worker.connections),
        worker.error ??
          (worker.startedLateMs === null
            ? ''
            : `late: it started ${formatMsAsSeconds(worker.startedLateMs)} after the planned start`),
      ]),
    ]),
  );
  if (outcome.startSkewMs !== null)
    lines.push(`  First stages started within ${Math.round(outcome.startSkewMs)} ms of each other.`);
  lines.push('', 'Metrics published (PutMetricData)');
  lines.push(
    outcome.published.length === 0
      ? '  none'
      : table([
          ['namespace', 'name', 'value', 'unit', 'dimensions'],
          ...outcome.published.map((point) => [
            point.namespace,
            point.name,
            String(point.values[0]?.value ?? ''),
            point.unit,
            Object.entries(point.dimensions)
              .map(([name, value]) => `${name}=${value}`)
              .join(' '),
          ]),
        ]),
  );
  lines.push('', ...describeMessages(outcome.messages, outcome.objects));
  lines.push('', ...describeObjects(outcome.objects));
  const lock = describeLock(outcome, options);
  if (lock.length > 0) lines.push('', ...lock);
  lines.push(
    '',
    `Alarms: the state each would take now, on these datapoints, the ${outcome.historyRuns} earlier run` +
      `${outcome.historyRuns === 1 ? '' : 's'} of ${options.target.id} in ${options.region} in the store, and the ` +
      "execution's AWS/States and AWS/Lambda metrics",
  );
  for (const alarm of outcome.alarms) lines.push(`  ${alarm.state.padEnd(17)} ${alarm.name}`, `      ${alarm.reason}`);
  if (outcome.otherAlarms.length)
    lines.push(`  Not rehearsed (they watch other targets or resources): ${outcome.otherAlarms.join(', ')}`);
  if (outcome.unsupported.length)
    lines.push('', `Calls rehearse does not stand in for (they failed): ${outcome.unsupported.join(', ')}`);
  lines.push('', `Function logs: ${outcome.logFile}`);
  return lines.join('\n');
}

/**
 * The messages to on-call: for each, its topic, subject and report link, the
 * object of this rehearsal the link points at, and the body e-mail
 * subscribers get (the `default` body of a per-protocol message).
 */
function describeMessages(messages: readonly CapturedMessage[], objects: readonly WrittenObject[]): string[] {
  if (messages.length === 0) return ['Messages to on-call (SNS Publish): none'];
  const lines = ['Messages to on-call (SNS Publish)'];
  for (const message of messages) {
    const body = plainBodyOf(message);
    const link = /https:\/\/\S+/.exec(body)?.[0];
    const decoded = safeDecode(body);
    const object = objects.find((written) => decoded.includes(written.key));
    lines.push(`  to       ${message.topicArn}`, `  subject  ${message.subject ?? '(none)'}`);
    if (link) lines.push(`  link     ${link}`);
    if (object) lines.push(`  here     ${object.file}`);
    lines.push(...body.split('\n').map((line) => `  | ${line}`.trimEnd()));
  }
  return lines;
}

/** The plain-text body of a message: with MessageStructure json, its `default` (or `email`) body. */
function plainBodyOf(message: CapturedMessage): string {
  if (message.structure !== 'json') return message.message;
  try {
    const bodies = JSON.parse(message.message) as Record<string, unknown>;
    const text = bodies.default ?? bodies.email;
    return typeof text === 'string' ? text : message.message;
  } catch {
    return message.message;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The objects written to the stand-in S3. */
function describeObjects(objects: readonly WrittenObject[]): string[] {
  if (objects.length === 0) return ['Objects written to S3: none'];
  const folders = [...new Set(objects.map((object) => object.file.slice(0, -object.key.length)))];
  return [
    `Objects written to S3 (here: ${folders.join(', ')})`,
    ...objects.map((object) => `  s3://${object.bucket}/${object.key}`),
  ];
}

/** What became of the target's run lock, when the rehearsal found one or had to release one. */
function describeLock({ lock, run }: RehearsalOutcome, options: RehearseOptions): string[] {
  const { foundAtStart: found, releasedAtExit: released } = lock;
  const lines: string[] = [];
  if (found) {
    lines.push(
      `Run lock: run ${found.runId} held the lock of ${options.target.id} in ${options.store} (since ` +
        `${iso(found.since)}, until ${iso(found.until)}) when this rehearsal started` +
        `${run?.verdict === 'skipped' ? ', so the plan step skipped this run, as deployed' : ''}. A store is used ` +
        'by one process at a time, so a rehearsal that could not release it left it (killed with SIGKILL, or ' +
        'its machine went down).',
    );
  }
  if (released) {
    lines.push(
      found?.runId === released.runId
        ? 'Run lock: released at exit, so the next rehearsal runs.'
        : `Run lock: the execution ended without releasing the lock of its run ${released.runId} (deployed, it ` +
            `holds until ${iso(released.until)}, and runs of ${options.target.id} until then are skipped); ` +
            'released at exit, so the next rehearsal runs.',
    );
  }
  return lines;
}

/** A rehearsal refused by its self-check across processes. */
export function describeRefusal(options: RehearseOptions, problems: readonly RehearsalProblem[]): string {
  return [
    `Rehearsal of ${options.target.id} in ${options.region}: REFUSED ` +
      '(self-check across processes; nothing was started)',
    ...problems.map((problem) => `  ${problem.summary} Fix: ${problem.fix}.`),
  ].join('\n');
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function table(rows: readonly string[][]): string {
  const widths = (rows[0] ?? []).map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows
    .map(
      (row) =>
        `  ${row
          .map((cell, column) => cell.padEnd(widths[column] ?? 0))
          .join('  ')
          .trimEnd()}`,
    )
    .join('\n');
}
