import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerTimeoutSeconds } from '../../functions/config/worker-budget.js';
import { runItemKey } from '../../functions/adapters/dynamo-run-store.js';
import { runLockKey } from '../../functions/adapters/dynamo-run-locks.js';
import { stopRequestKey } from '../../functions/adapters/dynamo-stop-requests.js';
import { resourceNames } from '../../functions/config/resource-names.js';
import { RUNS_TABLE_TTL_ATTRIBUTE } from '../../functions/steps/deployment-names.js';
import { shardResultKey } from '../../functions/steps/shard-results.js';
import { METRIC_NAMESPACE } from '../../functions/engine/metric-names.js';
import type { ProbeFunction } from '../../lib/probe-function.js';
import { secretArnPattern, secretNamesOf } from '../../lib/probe-functions.js';
import type { RegionStack } from '../../lib/region-stack.js';

const RUNS_TABLE_NAME = resourceNames().runsTable;
import { heldRun } from '../support/run-results.js';
import {
  actionsOfRole,
  buildApp,
  logicalIdOf,
  resourceOf,
  resourcesOf,
  stackOf,
  statementsOfRole,
  TEST_ACCOUNT,
  testConfig,
  testTarget,
  probeTargetOf,
  type Statement,
  removeAssemblies,
} from '../support/cdk.js';

let stack: RegionStack;
let template: Template;

beforeAll(() => {
  stack = stackOf(buildApp());
  template = Template.fromStack(stack);
});

afterAll(removeAssemblies);

const target = testTarget;

function worker(id: string): ProbeFunction {
  return probeTargetOf(stack, id).worker;
}

const fn = (probe: ProbeFunction) => logicalIdOf(probe.function);
const role = (probe: ProbeFunction) => logicalIdOf(probe.role);

/** The synthesized properties of a function. */
function functionProperties(probe: ProbeFunction): Record<string, unknown> {
  return resourceOf(template, fn(probe)).Properties;
}

/** The bucket's objects under `prefix`, as the template names them. */
const bucketObjects = (prefix = 'runs/') => ({
  'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalIdOf(stack.bucket.bucket), 'Arn'] }, `/${prefix}*`]],
});
const tableArn = () => ({ 'Fn::GetAtt': [logicalIdOf(stack.table.table), 'Arn'] });
const logActions = ['logs:CreateLogStream', 'logs:PutLogEvents'];

describe('ProbeFunction', () => {
  it('runs every function on Node.js 22, arm64, as an ESM bundle with source maps', () => {
    for (const probe of [stack.plan, stack.record, ...stack.targets.map((each) => each.worker)]) {
      const properties = functionProperties(probe);
      expect(properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler' });
      expect((properties.Environment as { Variables: Record<string, string> }).Variables.NODE_OPTIONS).toBe(
        '--enable-source-maps',
      );
    }
  });

  it('gives each function its own log group kept for 30 days, JSON log lines and a role with no managed policy', () => {
    const functions = [stack.plan, stack.record, ...stack.targets.map((each) => each.worker)];
    // Ours, and the one function of CDK's AwsCustomResource that publishes the deploy's mark (deployed-marker.ts).
    expect(resourcesOf(template, 'AWS::Lambda::Function')).toHaveLength(functions.length + 1);
    const logGroups = functions.map((probe) => logicalIdOf(probe.logGroup));
    expect(new Set(logGroups).size).toBe(functions.length);
    for (const probe of functions) {
      expect(functionProperties(probe).LoggingConfig).toEqual({
        LogGroup: { Ref: logicalIdOf(probe.logGroup) },
        LogFormat: 'JSON',
      });
      expect(resourceOf(template, logicalIdOf(probe.logGroup))).toMatchObject({
        Type: 'AWS::Logs::LogGroup',
        Properties: { RetentionInDays: 30 },
      });
      expect(resourceOf(template, role(probe)).Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('lets a function write only to its own log group', () => {
    const logStatements = statementsOfRole(template, role(stack.plan)).filter((statement) =>
      [statement.Action].flat().includes('logs:PutLogEvents'),
    );
    expect(logStatements).toEqual([
      { Effect: 'Allow', Action: logActions, Resource: { 'Fn::GetAtt': [logicalIdOf(stack.plan.logGroup), 'Arn'] } },
    ]);
  });
});

describe('PlanFunction', () => {
  it('is given the allowlist and the runs table (for the run locks)', () => {
    expect(functionProperties(stack.plan)).toMatchObject({
      MemorySize: 256,
      Timeout: 30,
      Environment: {
        Variables: {
          ALLOWED_HOSTS: 'chat.example.com,feed.example.com,bulk.example.com',
          RUNS_TABLE: { Ref: logicalIdOf(stack.table.table) },
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    });
  });

  it('may take and read run locks, and write its logs, nothing else', () => {
    expect(actionsOfRole(template, role(stack.plan))).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', ...logActions]);
    expect(
      statementsOfRole(template, role(stack.plan)).filter((statement) =>
        [statement.Action].flat().some((action) => action.startsWith('dynamodb:')),
      ),
    ).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        Resource: tableArn(),
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['LOCK#*'] } },
      },
    ]);
    expect(runLockKey('chat').pk.S).toMatch(/^LOCK#/);
  });
});

describe('WorkerFunction', () => {
  it('takes its memory from the config and its timeout from the plan', () => {
    expect(functionProperties(worker('chat'))).toMatchObject({
      MemorySize: 512,
      Timeout: workerTimeoutSeconds(target('chat').plan),
    });
    expect(functionProperties(worker('feed'))).toMatchObject({
      MemorySize: 1024,
      Timeout: workerTimeoutSeconds(target('feed').plan),
    });
    // 20 s start delay + 4 stages of (1 s ramp + 60 s hold) + 10 s close + 15 s stop margin.
    expect(workerTimeoutSeconds(target('chat').plan)).toBe(289);
  });

  it('is given the allowlist, the bucket and the table', () => {
    expect((functionProperties(worker('chat')).Environment as { Variables: unknown }).Variables).toEqual({
      ALLOWED_HOSTS: 'chat.example.com,feed.example.com,bulk.example.com',
      SHARD_RESULTS_BUCKET: { Ref: logicalIdOf(stack.bucket.bucket) },
      RUNS_TABLE: { Ref: logicalIdOf(stack.table.table) },
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it("may put shard results under its target's prefix, read its stop request and its own secrets, nothing else", () => {
    const statements = statementsOfRole(template, role(worker('chat')));
    expect(actionsOfRole(template, role(worker('chat')))).toEqual([
      'dynamodb:GetItem',
      ...logActions,
      's3:PutObject',
      'secretsmanager:GetSecretValue',
    ]);
    expect(statements.filter((statement) => statement.Action === 's3:PutObject')).toEqual([
      { Effect: 'Allow', Action: 's3:PutObject', Resource: bucketObjects('runs/chat/') },
    ]);
    expect(statements.filter((statement) => statement.Action === 'dynamodb:GetItem')).toEqual([
      {
        Effect: 'Allow',
        Action: 'dynamodb:GetItem',
        Resource: tableArn(),
        Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['STOP#chat'] } },
      },
    ]);
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: [
        `arn:aws:secretsmanager:eu-west-1:${TEST_ACCOUNT}:secret:chat/api-key-??????`,
        `arn:aws:secretsmanager:eu-west-1:${TEST_ACCOUNT}:secret:chat/probe-token-??????`,
      ],
    });
  });

  it('never writes to the runs table', () => {
    for (const each of stack.targets) {
      const actions = actionsOfRole(template, role(each.worker));
      expect(actions.filter((action) => action.startsWith('dynamodb:'))).toEqual(['dynamodb:GetItem']);
      expect(actions).not.toContain('dynamodb:PutItem');
    }
  });

  it('reserves the concurrency its target sets, and none by default', () => {
    expect(functionProperties(worker('chat')).ReservedConcurrentExecutions).toBeUndefined();
    const config = testConfig();
    const reserved = {
      ...config,
      targets: config.targets.map((each) => (each.id === 'chat' ? { ...each, reservedConcurrency: 5 } : each)),
    };
    const synthesized = stackOf(buildApp(reserved));
    const properties = resourceOf(
      Template.fromStack(synthesized),
      logicalIdOf(probeTargetOf(synthesized, 'chat').worker.function),
    ).Properties;
    expect(properties.ReservedConcurrentExecutions).toBe(5);
  });

  it('reads no secret when its target names none', () => {
    expect(actionsOfRole(template, role(worker('feed')))).toEqual(['dynamodb:GetItem', ...logActions, 's3:PutObject']);
  });

  it("writes and reads under the same keys as the adapters: its target's shard prefix and stop request", () => {
    for (const each of ['chat', 'feed', 'bulk']) {
      const statements = statementsOfRole(template, role(worker(each)));
      const key = shardResultKey({ targetId: each, runId: 'run-1' }, 0);
      const [put] = statements.filter((statement) => statement.Action === 's3:PutObject');
      const prefix = String((put?.Resource as { 'Fn::Join': [string, [unknown, string]] })['Fn::Join'][1][1]).replace(
        /^\/|\*$/g,
        '',
      );
      expect(key.startsWith(prefix)).toBe(true);
      expect(shardResultKey({ targetId: 'other', runId: 'run-1' }, 0).startsWith(prefix)).toBe(false);
      const [get] = statements.filter((statement) => statement.Action === 'dynamodb:GetItem');
      expect(get?.Condition).toEqual({
        'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [stopRequestKey(each).pk.S] },
      });
    }
  });
});

describe('RecordFunction', () => {
  it('is given the bucket, the table and the on-call topic, no allowlist', () => {
    expect(functionProperties(stack.record)).toMatchObject({ MemorySize: 1024, Timeout: 120 });
    expect((functionProperties(stack.record).Environment as { Variables: unknown }).Variables).toEqual({
      SHARD_RESULTS_BUCKET: { Ref: logicalIdOf(stack.bucket.bucket) },
      RUNS_TABLE: { Ref: logicalIdOf(stack.table.table) },
      ALERT_TOPIC_ARN: { Ref: logicalIdOf(stack.alarmTopic.topic) },
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it(
    'may write reports, list the bucket (a missing shard result is NoSuchKey, not AccessDenied), release run ' +
      'locks and publish to the topic',
    () => {
      const statements = statementsOfRole(template, role(stack.record));
      expect(statements).toContainEqual({
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: bucketObjects('reports/'),
      });
      expect(statements).toContainEqual({
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: { 'Fn::GetAtt': [logicalIdOf(stack.bucket.bucket), 'Arn'] },
      });
      expect(statements).toContainEqual({
        Effect: 'Allow',
        Action: 'dynamodb:DeleteItem',
        Resource: tableArn(),
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['LOCK#*'] } },
      });
      expect(statements).toContainEqual({
        Effect: 'Allow',
        Action: 'sns:Publish',
        Resource: { Ref: logicalIdOf(stack.alarmTopic.topic) },
      });
      expect(statements).toContainEqual({
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Resource: { 'Fn::GetAtt': [logicalIdOf(stack.alarmTopic.key), 'Arn'] },
      });
    },
  );

  it(
    'may read shard results, put and query runs (never stop requests), and publish metrics in the ws-ceiling ' +
      'namespace only',
    () => {
      const statements = statementsOfRole(template, role(stack.record));
      expect(actionsOfRole(template, role(stack.record))).toEqual([
        'cloudwatch:PutMetricData',
        'dynamodb:DeleteItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'kms:Decrypt',
        'kms:GenerateDataKey*',
        ...logActions,
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
        'sns:Publish',
      ]);
      expect(statements).toContainEqual({ Effect: 'Allow', Action: 's3:GetObject', Resource: bucketObjects() });
      expect(
        statements.filter((statement) => [statement.Action].flat().some((action) => action.startsWith('dynamodb:'))),
      ).toEqual([
        {
          Effect: 'Allow',
          Action: ['dynamodb:PutItem', 'dynamodb:Query'],
          Resource: tableArn(),
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TARGET#*'] } },
        },
        {
          Effect: 'Allow',
          Action: 'dynamodb:DeleteItem',
          Resource: tableArn(),
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['LOCK#*'] } },
        },
      ]);
      expect(runItemKey(heldRun).pk).toMatch(/^TARGET#/);
      expect(statements).toContainEqual<Statement>({
        Effect: 'Allow',
        Action: 'cloudwatch:PutMetricData',
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': METRIC_NAMESPACE } },
      });
    },
  );
});

describe('secretNamesOf', () => {
  it('lists each secret a target header refers to once, sorted, ignoring plain values', () => {
    const chat = target('chat');
    const headers = { ...chat.headers, 'X-Again': { secretName: 'chat/api-key' } };
    expect(secretNamesOf({ ...chat, headers })).toEqual(['chat/api-key', 'chat/probe-token']);
    expect(secretNamesOf(target('feed'))).toEqual([]);
  });
});

describe('secretArnPattern', () => {
  it('matches the six random characters Secrets Manager appends to a name', () => {
    expect(stack.resolve(secretArnPattern(stack, 'team/token'))).toBe(
      `arn:aws:secretsmanager:eu-west-1:${TEST_ACCOUNT}:secret:team/token-??????`,
    );
  });
});

describe('RunsTable', () => {
  it('is on demand with point-in-time recovery, TTL on the attribute the adapters write and encryption at rest', () => {
    expect(RUNS_TABLE_TTL_ATTRIBUTE).toBe('expiresAt');
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: RUNS_TABLE_NAME,
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'runsIndexPk', AttributeType: 'S' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'recent-runs',
          KeySchema: [
            { AttributeName: 'runsIndexPk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['run'] },
        },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: RUNS_TABLE_TTL_ATTRIBUTE, Enabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('is kept when the stack is deleted', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('ShardResultsBucket', () => {
  it('is private, S3-encrypted and expires shard results after 3 days and reports after 90', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LifecycleConfiguration: {
        Rules: [
          Match.objectLike({ Prefix: 'runs/', ExpirationInDays: 3, Status: 'Enabled' }),
          Match.objectLike({ Prefix: 'reports/', ExpirationInDays: 90, Status: 'Enabled' }),
        ],
      },
    });
  });

  it('refuses requests without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});
