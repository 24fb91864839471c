/**
 * The plan Lambda: the first state of a deployed run. Reads its allowlist
 * from the environment once per cold start and runs the plan step on the
 * execution input (a RunRequest); its output is the state the worker map
 * runs over. A bad target fails the execution with the field path.
 */
import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { readPlanEnvironment } from '../steps/function-environment.js';
import { planStep } from '../steps/plan-step.js';
import type { PlanStepOutput } from '../steps/step-payloads.js';
import { oncePerColdStart } from './cold-start.js';
import { createLogger } from './log.js';

const environment = oncePerColdStart(() => readPlanEnvironment(process.env));

/** Plans a run: validates the target, checks its host, lays out the stages and shards. */
export const handler = middy((event: unknown, context: Context): PlanStepOutput => {
  const { allowedHosts } = environment();
  const log = createLogger({ step: 'plan', requestId: context.awsRequestId });
  return planStep(event, { allowedHosts, now: Date.now, newRunId: randomUUID, log });
});
