/**
 * What each Task state of a rehearsed state machine does on this machine:
 * - a Lambda function (its ARN as the Resource, or `lambda:invoke`) runs its
 *   bundled code from the cloud assembly in a sandbox with the function's
 *   memory size, timeout and environment variables from the template, plus
 *   what Lambda sets (region, function name, UTC) and the local stand-ins'
 *   endpoints with dummy credentials; a failure reaches the state machine as
 *   Lambda's error (its type as the error, its document as the cause), so
 *   Retry and Catch apply as deployed;
 * - `sns:publish` and `dynamodb:*` integrations go to the local stand-ins;
 * - anything else fails the state with States.Runtime, naming it.
 * Faults asked for are played on the calls of one map item (by shard) or of
 * one Task state outside the map (by name). The calls made before the first
 * map item (the plan) can run with their clock set back, to shorten the
 * start delay. A table the rehearsal keeps under another name (the store's
 * runs table) is renamed in every environment variable that names it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { callInSandbox, type SandboxCall } from '../../functions/lambda-sandbox/sandbox.js';
import { textOf } from '../../functions/rehearsal/cloud-template.js';
import type { CapturedMessage } from '../../functions/rehearsal/local-aws-endpoint.js';
import type { TaskCall, TaskInvoker } from '../../functions/rehearsal/state-machine-run.js';
import type { TemplateFunction } from '../../functions/rehearsal/template-resources.js';
import type { PlannedFault } from './rehearse-options.js';

/** One call of a Lambda function during the rehearsal. */
export interface RehearsalCall {
  state: string;
  inMap: boolean;
  functionName: string;
  /** The shard of a map item's call (its input's `shard.index`), else null. */
  shard: number | null;
  input: unknown;
  sandbox: SandboxCall;
}

/** What the Task states need from the rehearsal. */
export interface TaskDependencies {
  functions: readonly TemplateFunction[];
  /** The folder of a code asset by its S3 key. */
  assetFolder: (codeKey: string) => string | undefined;
  region: string;
  /** The local AWS endpoint and the embedded DynamoDB endpoint. */
  endpoints: { aws: string; dynamo: string };
  /** Milliseconds added to the clock of the calls made before the first map item (the plan's). */
  clockOffsetMs?: number;
  /** Local names of the template's tables kept under another name, by their template name. */
  renamedTables: ReadonlyMap<string, string>;
  faults: readonly PlannedFault[];
  /** Stops every call when aborted. */
  signal: AbortSignal;
  /** Each line a function logs. */
  log: (functionName: string, line: string) => void;
  dynamoTask: (action: string, parameters: unknown) => Promise<unknown>;
  publish: (message: CapturedMessage) => string;
}

/** What the Task states did: every Lambda call, and the states whose calls ran with the clock set back. */
export interface RehearsalTasks {
  invoke: TaskInvoker;
  calls: RehearsalCall[];
  shiftedStates: Set<string>;
}

/** The invoker of every Task state, and the Lambda calls it made. */
export function rehearsalTasks(deps: TaskDependencies): RehearsalTasks {
  const calls: RehearsalCall[] = [];
  const shiftedStates = new Set<string>();
  let mapStarted = false;
  const callFunction = async (call: TaskCall, fn: TemplateFunction, event: unknown): Promise<unknown> => {
    const shard = shardOf(call);
    mapStarted ||= call.inMap;
    const shifted = deps.clockOffsetMs !== undefined && !mapStarted;
    if (shifted) shiftedStates.add(call.state);
    const fault = deps.faults.find((planned) => (call.inMap ? planned.on === shard : planned.on === call.state))?.fault;
    if (fault?.kind === 'late') await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    const sandbox = await callInSandbox(sandboxFunction(fn, deps), event, {
      signal: deps.signal,
      onOutput: (line) => deps.log(fn.name, line),
      ...(shifted ? { clockOffsetMs: deps.clockOffsetMs } : {}),
      ...(fault && fault.kind !== 'late' ? { fault } : {}),
    });
    calls.push({ state: call.state, inMap: call.inMap, functionName: fn.name, shard, input: event, sandbox });
    if (sandbox.outcome.ok) return sandbox.outcome.value;
    const { error } = sandbox.outcome;
    throw Object.assign(new Error(JSON.stringify(error)), { name: error.errorType });
  };
  const invoke: TaskInvoker = async (call) => {
    const { resource } = call;
    const direct = deps.functions.find((fn) => resource === fn.arn || resource.startsWith(`${fn.arn}:`));
    if (direct) return callFunction(call, direct, call.input);
    const integration = /^arn:aws:states:::([a-z0-9-]+):([A-Za-z]+)$/.exec(resource);
    const input = (call.input ?? {}) as Record<string, unknown>;
    if (integration?.[1] === 'lambda' && integration[2] === 'invoke') {
      const name = textOf(input.FunctionName);
      const fn = deps.functions.find((candidate) => candidate.name === name || name.startsWith(candidate.arn));
      if (!fn) throw stateError('Lambda.ResourceNotFoundException', `Function not found: ${name}`);
      const payload = await callFunction(call, fn, input.Payload);
      return { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
    }
    if (integration?.[1] === 'sns' && integration[2] === 'publish') {
      const message = typeof input.Message === 'string' ? input.Message : JSON.stringify(input.Message);
      const subject = typeof input.Subject === 'string' ? input.Subject : undefined;
      const structure = typeof input.MessageStructure === 'string' ? { structure: input.MessageStructure } : {};
      return { MessageId: deps.publish({ topicArn: textOf(input.TopicArn), subject, message, ...structure }) };
    }
    if (integration?.[1] === 'dynamodb') return deps.dynamoTask(integration[2] ?? '', call.input);
    throw stateError(
      'States.Runtime',
      `rehearse does not stand in for the Resource ${resource} of state ${call.state}`,
    );
  };
  return { invoke, calls, shiftedStates };
}

function stateError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

/** The shard of a call's input (a ShardTask's `shard.index`), or null. */
function shardOf(call: TaskCall): number | null {
  const index = (call.input as { shard?: { index?: unknown } } | null)?.shard?.index;
  return typeof index === 'number' ? index : null;
}

/** The sandbox of a template function: its bundle, limits and environment as Lambda would set them. */
function sandboxFunction(fn: TemplateFunction, deps: TaskDependencies) {
  const folder = fn.codeKey === undefined ? undefined : deps.assetFolder(fn.codeKey);
  if (!folder)
    throw stateError('Lambda.ServiceException', `the code of function ${fn.logicalId} is not in the assembly`);
  const [file = 'index', exportName = 'handler'] = fn.handler.split(/\.(?=[^.]+$)/);
  const modulePath = ['.mjs', '.js', '.cjs']
    .map((extension) => path.join(folder, `${file}${extension}`))
    .find(existsSync);
  if (!modulePath) throw stateError('Runtime.ImportModuleError', `Cannot find module '${file}' in ${folder}`);
  return {
    name: fn.name,
    arn: fn.arn,
    modulePath,
    exportName,
    limits: { memoryMb: fn.memoryMb, timeoutSeconds: fn.timeoutSeconds },
    environment: {
      ...Object.fromEntries(
        Object.entries(fn.environment).map(([name, value]) => [name, deps.renamedTables.get(value) ?? value]),
      ),
      AWS_REGION: deps.region,
      AWS_DEFAULT_REGION: deps.region,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
      AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
      LAMBDA_TASK_ROOT: folder,
      TZ: 'UTC',
      AWS_ACCESS_KEY_ID: 'rehearsal',
      AWS_SECRET_ACCESS_KEY: 'rehearsal',
      AWS_SESSION_TOKEN: 'rehearsal',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ENDPOINT_URL: deps.endpoints.aws,
      AWS_ENDPOINT_URL_DYNAMODB: deps.endpoints.dynamo,
      // Lambda runs Node.js 22; here the bundle runs on this machine's Node, where the SDK would warn.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  };
}
