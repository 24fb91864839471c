/**
 * The plan Lambda: the first state of a deployed run (after the region's
 * stagger wait). Reads its allowlist and runs table from the environment and
 * builds the run-lock adapter once per cold start, then runs the plan step on
 * the execution input (a RunRequest); its output is the state the worker map
 * runs over, or a skipped run when another run holds the target's lock. A
 * bad target fails the execution with the field path.
 */
import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { createPlanAdapters } from '../adapters/step-adapters.js';
import { readPlanEnvironment } from '../steps/function-environment.js';
import { planStep } from '../steps/plan-step.js';
import type { PlanStepOutput } from '../steps/step-payloads.js';
import { oncePerColdStart } from './cold-start.js';
import { createLogger } from './log.js';

const setup = oncePerColdStart(() => {
  const environment = readPlanEnvironment(process.env);
  return { allowedHosts: environment.allowedHosts, ...createPlanAdapters(environment) };
});

/** Plans a run: validates the target, checks its host, lays out the stages and shards, takes the run lock. */
export const handler = middy(async (event: unknown, context: Context): Promise<PlanStepOutput> => {
  const log = createLogger({ step: 'plan', requestId: context.awsRequestId });
  return planStep(event, { ...setup(), now: Date.now, newRunId: randomUUID, log });
});
