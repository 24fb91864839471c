/**
 * The record Lambda: the last state of a deployed run. Builds its adapters
 * (S3 shard results and reports, the DynamoDB runs table and its locks,
 * CloudWatch metrics, the on-call topic) once per cold start and runs the
 * record step on the plan's output and the map's results, with the HTML
 * report renderer of `ws-ceiling report`; its output is the execution's
 * output that `ws-ceiling invoke` prints. On the state machine's failure
 * path it is handed a ReleaseLockRequest instead, and releases the run's lock.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { createRecordAdapters } from '../adapters/step-adapters.js';
import { InvalidInputError } from '../engine/errors.js';
import { renderHtmlReport } from '../report/html-report.js';
import { readRecordEnvironment } from '../steps/function-environment.js';
import { recordStep, type ReportRenderer } from '../steps/record-step.js';
import {
  isReleaseLockRequest,
  releaseStep,
  type ReleaseLockOutput,
  type ReleaseLockRequest,
} from '../steps/release-step.js';
import type { RecordStepInput, RecordStepOutput } from '../steps/step-payloads.js';
import { oncePerColdStart } from './cold-start.js';
import { createLogger } from './log.js';

/** The run's HTML report, as `ws-ceiling report` writes it, generated now. */
const renderReport: ReportRenderer = (run, history) =>
  renderHtmlReport(run, { generatedAt: new Date().toISOString(), history });

const setup = oncePerColdStart(() => {
  const region = process.env.AWS_REGION;
  if (!region) throw new InvalidInputError('AWS_REGION', 'environment variable is not set (Lambda sets it)');
  const environment = readRecordEnvironment(process.env);
  const { reportStore, ...adapters } = createRecordAdapters(environment, region);
  return {
    region,
    ...adapters,
    reports: { store: reportStore, render: renderReport },
    ...(environment.deploymentName !== undefined ? { deployment: environment.deploymentName } : {}),
  };
});

/**
 * Merges the shards, judges the run, writes it once, publishes its metrics, stores its report, tells on-call; or,
 * given a ReleaseLockRequest, releases a failed run's lock.
 */
export const handler = middy(
  async (
    event: RecordStepInput | ReleaseLockRequest,
    context: Context,
  ): Promise<RecordStepOutput | ReleaseLockOutput> => {
    const log = createLogger({ step: 'record', requestId: context.awsRequestId });
    if (isReleaseLockRequest(event)) return releaseStep(event, { locks: setup().locks, log });
    return recordStep(event, { ...setup(), now: Date.now, log });
  },
);
