/**
 * The worker Lambda: runs one shard of a deployed run (one item of the
 * worker map). Wrapped once with middy, whose abort signal fires
 * `WORKER_STOP_MARGIN_MS` before the Lambda deadline: the worker step then
 * stops opening, closes with 1000, writes its records to S3 and returns,
 * all inside that margin. Adapters are built once per cold start; the
 * connection layer's shard runner and the /proc reader of this Lambda's
 * budget are handed to the step, with one clock per invocation (see
 * wall-clock.ts) that the step reads its lateness on and the shard runs on.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { sigV4UrlSigner } from '../adapters/sigv4-url-signer.js';
import { createWorkerAdapters } from '../adapters/step-adapters.js';
import { WORKER_STOP_MARGIN_MS } from '../config/worker-budget.js';
import { underResourceWatch } from '../connection/resource-watch.js';
import { runConnections } from '../connection/run-connections.js';
import { runShard, shardInputOf } from '../connection/shard-runner.js';
import { readWorkerEnvironment } from '../steps/function-environment.js';
import type { ShardTask, WorkerOutput } from '../steps/step-payloads.js';
import { workerStep, type ShardRunner } from '../steps/worker-step.js';
import { lambdaBudgetSources, readHostBudget } from '../probe-host/host-budget.js';
import { oncePerColdStart } from './cold-start.js';
import { compactErrors } from './compact-error.js';
import { createLogger } from './log.js';
import { invocationClock } from './wall-clock.js';

/**
 * The connection layer's runShard under a resource watch of this Lambda, called the way the worker step calls its shard
 * runner: each connection made from the target's recipe (templates, the worker's SigV4 signer). A worker has none of
 * the user's environment: a deployed config refuses `{{env:…}}`.
 */
const runShardOfTask: ShardRunner = async (settings, stages, shard, control, host, now, { shardCount, sign }) => {
  const connections = runConnections(settings, { env: {}, ...(sign ? { sign } : {}), now });
  try {
    return await underResourceWatch(host, control, (watch) =>
      runShard(
        { ...shardInputOf(settings, stages, shard), recipe: connections.recipeFor(shardCount) },
        { control, now, ...(watch ? { watch } : {}) },
      ),
    );
  } finally {
    connections.close();
  }
};

const setup = oncePerColdStart(() => {
  const environment = readWorkerEnvironment(process.env);
  return { allowedHosts: environment.allowedHosts, ...createWorkerAdapters(environment) };
});

/**
 * Runs the shard of `task` and returns where its records are.
 *
 * middy races the handler against its early timeout and, by default, answers
 * with a TimeoutError the moment the signal fires, which would drop the
 * records. Here the early-timeout response never settles, so the signal only
 * tells the worker to stop, and the answer is the worker's own output. An
 * error is logged in full and reaches Step Functions shortened (see
 * compact-error.ts).
 */
export const handler = middy(
  async (task: ShardTask, context: Context, { signal }: { signal: AbortSignal }): Promise<WorkerOutput> =>
    workerStep(task, {
      ...setup(),
      runShard: runShardOfTask,
      signerFor: sigV4UrlSigner,
      readHostBudget: () => readHostBudget(sandboxSources(context)),
      deadline: signal,
      stopMarginMs: WORKER_STOP_MARGIN_MS,
      now: invocationClock(),
      log: workerLogger(context),
    }),
  {
    timeoutEarlyInMillis: WORKER_STOP_MARGIN_MS,
    // middy types this hook as returning void, but resolves its early-timeout race with what it returns.
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- a promise that never settles keeps it open
    timeoutEarlyResponse: () => new Promise<never>(() => undefined),
  },
).use(compactErrors(workerLogger));

/** What the sandbox gives the probe: its memory size from the context, or the OS's figures where none is given. */
function sandboxSources(context: Context) {
  const memoryLimitMb = Number(context.memoryLimitInMB);
  return Number.isFinite(memoryLimitMb) && memoryLimitMb > 0 ? lambdaBudgetSources(memoryLimitMb) : {};
}

/** The worker's log, carrying the invocation's request id. */
function workerLogger(context: Context) {
  return createLogger({ step: 'worker', requestId: context.awsRequestId });
}
