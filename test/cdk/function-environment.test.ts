import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../functions/engine/errors.js';
import {
  FUNCTION_ENVIRONMENT,
  planVariables,
  readPlanEnvironment,
  readRecordEnvironment,
  readWorkerEnvironment,
  recordVariables,
  workerVariables,
} from '../../functions/steps/function-environment.js';

const worker = {
  allowedHosts: ['chat.example.com', 'feed.example.com'],
  shardResultsBucket: 'shard-bucket',
  runsTable: 'ws-ceiling-runs',
};

const record = {
  shardResultsBucket: 'shard-bucket',
  runsTable: 'ws-ceiling-runs',
  alertTopicArn: 'arn:aws:sns:eu-west-1:123456789012:on-call',
};

describe('planVariables', () => {
  it('gives the plan function the allowlist, comma-separated, and the runs table for its run locks', () => {
    expect(planVariables({ allowedHosts: worker.allowedHosts, runsTable: 'ws-ceiling-runs' })).toEqual({
      ALLOWED_HOSTS: 'chat.example.com,feed.example.com',
      RUNS_TABLE: 'ws-ceiling-runs',
    });
  });
});

describe('workerVariables', () => {
  it('gives a worker the allowlist, the shard-results bucket and the runs table', () => {
    expect(workerVariables(worker)).toEqual({
      ALLOWED_HOSTS: 'chat.example.com,feed.example.com',
      SHARD_RESULTS_BUCKET: 'shard-bucket',
      RUNS_TABLE: 'ws-ceiling-runs',
    });
  });
});

describe('recordVariables', () => {
  it('gives the record function the shard-results bucket, the runs table and the topic, no allowlist', () => {
    expect(recordVariables(record)).toEqual({
      SHARD_RESULTS_BUCKET: 'shard-bucket',
      RUNS_TABLE: 'ws-ceiling-runs',
      ALERT_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:on-call',
    });
    expect(recordVariables({ ...record, deploymentName: 'staging' })).toMatchObject({ DEPLOYMENT_NAME: 'staging' });
  });
});

describe('readPlanEnvironment', () => {
  it('reads back what planVariables wrote', () => {
    expect(
      readPlanEnvironment(planVariables({ allowedHosts: ['a.example.com', 'b.example.com'], runsTable: 'runs' })),
    ).toEqual({ allowedHosts: ['a.example.com', 'b.example.com'], runsTable: 'runs' });
  });

  it('ignores spaces and empty entries in the allowlist', () => {
    expect(readPlanEnvironment({ ALLOWED_HOSTS: ' a.example.com , ,b.example.com ', RUNS_TABLE: 'runs' })).toEqual({
      allowedHosts: ['a.example.com', 'b.example.com'],
      runsTable: 'runs',
    });
  });

  it('names the variable when it is missing or lists no host', () => {
    expect(() => readPlanEnvironment({})).toThrow(InvalidInputError);
    expect(() => readPlanEnvironment({})).toThrow(/^ALLOWED_HOSTS: environment variable is not set/);
    expect(() => readPlanEnvironment({ ALLOWED_HOSTS: ' , ' })).toThrow(/^ALLOWED_HOSTS: must list at least one host/);
  });
});

describe('readWorkerEnvironment', () => {
  it('reads back what workerVariables wrote', () => {
    expect(readWorkerEnvironment(workerVariables(worker))).toEqual(worker);
  });

  it('names the first missing variable', () => {
    const { [FUNCTION_ENVIRONMENT.runsTable]: _table, ...withoutTable } = workerVariables(worker);
    expect(() => readWorkerEnvironment(withoutTable)).toThrow(/^RUNS_TABLE: environment variable is not set/);
  });
});

describe('readRecordEnvironment', () => {
  it('reads back what recordVariables wrote', () => {
    expect(readRecordEnvironment(recordVariables(record))).toEqual(record);
    const named = { ...record, deploymentName: 'staging' };
    expect(readRecordEnvironment(recordVariables(named))).toEqual(named);
  });

  it('refuses a blank bucket name', () => {
    expect(() => readRecordEnvironment({ SHARD_RESULTS_BUCKET: '  ', RUNS_TABLE: 'ws-ceiling-runs' })).toThrow(
      /^SHARD_RESULTS_BUCKET: /,
    );
  });
});
