/**
 * Runs a state machine definition on this machine with aws-local-stepfunctions,
 * an interpreter of the Amazon States Language: every Task state is handed to
 * the caller's invoker (which runs the Lambda function, or stands in for the
 * service integration, the Resource names), and Retry, Catch, Map, Parallel,
 * Choice, Wait and the execution's TimeoutSeconds behave as the definition
 * says. Before it runs, the definition is made to mean on this machine what
 * it means in AWS:
 * - a Task state without TimeoutSeconds waits as long as in AWS (the
 *   interpreter's own default is 60 s);
 * - a Distributed Map runs as an inline map of the same items and
 *   MaxConcurrency (the interpreter has no child executions); a note says so;
 * - a Wait state is passed at once, as `ws-ceiling invoke` starts a run
 *   without the stagger wait; a note says how long it would have waited.
 * What the execution did comes back as its status, output or error, and when
 * each top-level state was entered and left.
 */
import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError, StateMachine } from 'aws-local-stepfunctions';

// Node 20 has no Promise.withResolvers (Node 22 does), and the interpreter calls it for every Task state.
const promiseStatics = Promise as unknown as Record<string, unknown>;
promiseStatics.withResolvers ??= function withResolvers<T>() {
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (reason?: unknown) => void;
  const promise = new Promise<T>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  return { promise, resolve, reject };
};

/**
 * TimeoutSeconds given to a Task state that sets none. AWS's default is
 * 99,999,999 s; a Node timer holds at most 2^31 - 1 ms (24.8 days), which is
 * as good: the execution's own timeout ends it first.
 */
const DEFAULT_TASK_TIMEOUT_SECONDS = 2_147_483;

/** One Task state's call, as the invoker gets it. */
export interface TaskCall {
  /** The state's name. */
  state: string;
  /** Its Resource: a Lambda function ARN, or `arn:aws:states:::<service>:<action>`. */
  resource: string;
  /** Its effective input (InputPath and Parameters applied). */
  input: unknown;
  /** True for a state inside a Map's item processor. */
  inMap: boolean;
}

/**
 * Runs one Task call and returns its result; a failure throws an Error whose
 * `name` is the error Step Functions would see and whose `message` its cause.
 */
export type TaskInvoker = (call: TaskCall) => Promise<unknown>;

/** When a top-level state was entered and left (epoch ms; exitedAt null when it never ended). */
export interface StateTiming {
  name: string;
  enteredAt: number;
  exitedAt: number | null;
}

/** How an execution went. */
export interface ExecutionRecord {
  status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  output?: unknown;
  error?: string;
  cause?: string;
  startedAt: number;
  endedAt: number;
  states: StateTiming[];
  /** What the execution did differently from AWS, in words (a Wait state passed at once). */
  notes: string[];
}

/** A definition made ready for this machine, with what was changed in words. */
export interface PreparedDefinition {
  definition: Record<string, unknown>;
  /** Task states by name: their Resource and whether they sit inside a Map. */
  tasks: Map<string, { resource: string; inMap: boolean }>;
  /** Wait states by name, each with what it waits: `Seconds`, `SecondsPath`, `Timestamp` or `TimestampPath`. */
  waits: Map<string, WaitSpec>;
  notes: string[];
}

/** How long a Wait state waits, as its definition says. */
type WaitSpec = Pick<StateNode, 'Seconds' | 'SecondsPath' | 'Timestamp' | 'TimestampPath'>;

interface StateNode {
  Type?: string;
  Seconds?: number;
  SecondsPath?: string;
  Timestamp?: string;
  TimestampPath?: string;
  Resource?: string;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  MaxConcurrency?: number;
  ItemProcessor?: Record<string, unknown> & { ProcessorConfig?: { Mode?: string }; States?: Record<string, StateNode> };
  Iterator?: { States?: Record<string, StateNode> };
  Branches?: Array<{ States?: Record<string, StateNode> }>;
  ItemReader?: unknown;
  ResultWriter?: unknown;
  ItemBatcher?: unknown;
}

/**
 * A copy of `definition` ready for the interpreter (see the module comment).
 * Throws an Error naming the state when it uses what cannot run here.
 */
export function prepareDefinition(definition: Readonly<Record<string, unknown>>): PreparedDefinition {
  const copy = structuredClone(definition) as { States?: Record<string, StateNode> };
  const tasks = new Map<string, { resource: string; inMap: boolean }>();
  const waits = new Map<string, WaitSpec>();
  const notes: string[] = [];
  let defaultedTimeouts = 0;
  const visit = (states: Record<string, StateNode> | undefined, inMap: boolean): void => {
    for (const [name, state] of Object.entries(states ?? {})) {
      if (state.Type === 'Task') {
        tasks.set(name, { resource: String(state.Resource ?? ''), inMap });
        if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
          state.TimeoutSeconds = DEFAULT_TASK_TIMEOUT_SECONDS;
          defaultedTimeouts += 1;
        }
      }
      if (state.Type === 'Wait') {
        const { Seconds, SecondsPath, Timestamp, TimestampPath } = state;
        waits.set(name, { Seconds, SecondsPath, Timestamp, TimestampPath });
      }
      if (state.Type === 'Map') {
        if (state.ItemProcessor?.ProcessorConfig?.Mode === 'DISTRIBUTED') {
          for (const field of ['ItemReader', 'ResultWriter', 'ItemBatcher'] as const) {
            if (state[field] !== undefined)
              throw new Error(`the Distributed Map state ${name} uses ${field}, which rehearse cannot run`);
          }
          delete state.ItemProcessor.ProcessorConfig;
          notes.push(
            `The Distributed Map ${name} runs as an inline map of the same items, ${state.MaxConcurrency ?? 'all'}` +
              ' at once: the interpreter has no child executions.',
          );
        }
        visit((state.ItemProcessor ?? state.Iterator)?.States, true);
      }
      for (const branch of state.Branches ?? []) visit(branch.States, inMap);
    }
  };
  visit(copy.States, false);
  if (defaultedTimeouts > 0) {
    notes.push(
      `${defaultedTimeouts} Task state${defaultedTimeouts === 1 ? '' : 's'} without TimeoutSeconds wait as long as ` +
        "in AWS (the interpreter's own default is 60 s); each Lambda call still ends at its function's timeout.",
    );
  }
  return { definition: copy, tasks, waits, notes };
}

/** Runs a prepared definition on `input`; `signal` aborts the execution. */
export async function runStateMachine(
  prepared: PreparedDefinition,
  input: unknown,
  invoke: TaskInvoker,
  signal?: AbortSignal,
): Promise<ExecutionRecord> {
  const machine = new StateMachine(prepared.definition as unknown as ConstructorParameters<typeof StateMachine>[0], {
    validationOptions: { checkPaths: false },
  });
  const handlers = Object.fromEntries(
    [...prepared.tasks].map(([state, { resource, inMap }]) => [
      state,
      async (taskInput: unknown) => (await invoke({ state, resource, input: taskInput, inMap })) as never,
    ]),
  );
  const startedAt = Date.now();
  const waitTimeOverrides = Object.fromEntries([...prepared.waits.keys()].map((state) => [state, 0]));
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides },
  });
  const onAbort = (): void => execution.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const states: StateTiming[] = [];
  const notes: string[] = [];
  let failure: { error?: string; cause?: string } = {};
  const events = (async () => {
    for await (const event of execution.eventLogs) {
      if ('index' in event && event.index !== undefined) continue;
      if (event.type === 'StateEntered') {
        states.push({ name: event.state.name, enteredAt: event.timestamp, exitedAt: null });
        const wait = prepared.waits.get(event.state.name);
        if (wait) notes.push(passedWaitNote(event.state.name, wait, event.state.input));
      } else if (event.type === 'StateExited' || event.type === 'StateFailed') {
        const entry = [...states].reverse().find((state) => state.name === event.state.name && state.exitedAt === null);
        if (entry) entry.exitedAt = event.timestamp;
      }
      if (event.type === 'ExecutionFailed') failure = { error: event.Error, cause: stringOf(event.Cause) };
    }
  })();
  let record: Omit<ExecutionRecord, 'states' | 'startedAt' | 'endedAt' | 'notes'>;
  try {
    record = { status: 'SUCCEEDED', output: await execution.result };
  } catch (error) {
    if (error instanceof ExecutionTimeoutError)
      record = { status: 'TIMED_OUT', error: 'States.Timeout', cause: 'The execution ran past its TimeoutSeconds' };
    else if (error instanceof ExecutionAbortedError) record = { status: 'ABORTED' };
    else if (error instanceof ExecutionError) {
      const cause = error.cause as { name?: string; message?: string } | undefined;
      record = { status: 'FAILED', error: cause?.name ?? error.name, cause: cause?.message ?? error.message };
    } else throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  await Promise.race([events, new Promise((resolve) => setTimeout(resolve, 100))]);
  if (record.status === 'FAILED' && failure.error) record = { ...record, ...failure };
  return { ...record, startedAt, endedAt: Date.now(), states, notes: [...new Set(notes)] };
}

/** The note of a Wait state passed at once: what it would have waited in AWS, read from its input. */
function passedWaitNote(name: string, wait: WaitSpec, input: unknown): string {
  const path = wait.SecondsPath ?? wait.TimestampPath;
  const value = path === undefined ? (wait.Seconds ?? wait.Timestamp) : valueAt(input, path);
  const what =
    wait.Seconds !== undefined || wait.SecondsPath !== undefined
      ? `${textOrQuestion(value)} s`
      : `until ${textOrQuestion(value)}`;
  return (
    `The Wait state ${name} was passed at once: in AWS the execution waits ${what} there` +
    `${path === undefined ? '' : ` (${path} of its input)`}. A rehearsal starts at once, as ws-ceiling invoke does.`
  );
}

/** The value at a simple JSONPath (`$.a.b`) of `input`, or undefined. */
function valueAt(input: unknown, path: string): unknown {
  if (!/^\$(\.[A-Za-z_$][\w$-]*)*$/.test(path)) return undefined;
  return path
    .split('.')
    .slice(1)
    .reduce<unknown>(
      (value, key) =>
        typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined,
      input,
    );
}

function textOrQuestion(value: unknown): string {
  return typeof value === 'number' || typeof value === 'string' ? String(value) : '(unknown)';
}

function stringOf(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
