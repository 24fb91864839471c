/**
 * The record Lambda: the last state of a deployed run. Builds its adapters
 * (S3 shard results, the DynamoDB runs table, CloudWatch metrics) once per
 * cold start and runs the record step on the plan's output and the map's
 * results; its output is the execution's output that `ws-ceiling invoke` prints.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { createRecordAdapters } from '../adapters/step-adapters.js';
import { InvalidInputError } from '../engine/errors.js';
import { readRecordEnvironment } from '../steps/function-environment.js';
import { recordStep } from '../steps/record-step.js';
import type { RecordStepInput, RecordStepOutput } from '../steps/step-payloads.js';
import { oncePerColdStart } from './cold-start.js';
import { createLogger } from './log.js';

const setup = oncePerColdStart(() => {
  const region = process.env.AWS_REGION;
  if (!region) throw new InvalidInputError('AWS_REGION', 'environment variable is not set (Lambda sets it)');
  return { region, ...createRecordAdapters(readRecordEnvironment(process.env)) };
});

/** Merges the shards, judges the run, writes it once and publishes its metrics. */
export const handler = middy(async (event: RecordStepInput, context: Context): Promise<RecordStepOutput> => {
  const log = createLogger({ step: 'record', requestId: context.awsRequestId });
  return recordStep(event, { ...setup(), now: Date.now, log });
});
