import { Stack, Token, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceNames } from '../../functions/config/resource-names.js';
import { loadConfigFile, parseConfig } from '../../functions/config/target-config.js';
import type { WsCeilingConfig } from '../../functions/config/config-types.js';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import { flattenReference } from '../../lib/nag-acknowledgements.js';
import { checkWithCdkNag, configRegions } from '../../lib/probe-app.js';
import {
  buildApp,
  logicalIdOf,
  resourcesOf,
  REPO_ROOT,
  TEST_ACCOUNT,
  testConfig,
  type SynthesizedApp,
  removeAssemblies,
} from '../support/cdk.js';

const EXAMPLE_CONFIG = join(REPO_ROOT, 'config', 'example.config.json');
const stackName = (region: string) => resourceNames().stack(region);

/**
 * The 100,000-connection plan of 7 stages: 112 workers whose tasks, each repeating the target and the stages,
 * make a run state above the 256 KB of a Step Functions state.
 */
const HUGE_PLAN = {
  stages: [25_000, 40_000, 55_000, 70_000, 85_000, 95_000, 100_000],
  holdSeconds: 60,
  connectRate: 2000,
  maxConnections: 100_000,
};

let built: SynthesizedApp;

beforeAll(() => {
  built = buildApp();
  built.app.synth();
});

afterAll(removeAssemblies);

/** Every cdk-nag acknowledgement under `scope`: rule id → reason. */
function acknowledgements(scope: IConstruct): Map<string, string> {
  const found = new Map<string, string>();
  for (const construct of scope.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>))
        found.set(`${construct.node.path} ${id.replace(/^annotation::/i, '')}`, reason);
    }
  }
  return found;
}

describe('configRegions', () => {
  it('lists each region a target names once, in config order', () => {
    expect(configRegions(testConfig())).toEqual(['eu-west-1', 'us-east-1']);
  });
});

describe('addRegionStacks', () => {
  it('makes one stack per region, named for the region and deployed to it', () => {
    expect(built.stacks.map((stack) => [stack.node.id, stack.stackName, stack.region, stack.account])).toEqual([
      [stackName('eu-west-1'), 'ws-ceiling-eu-west-1', 'eu-west-1', TEST_ACCOUNT],
      [stackName('us-east-1'), 'ws-ceiling-us-east-1', 'us-east-1', TEST_ACCOUNT],
    ]);
  });

  it('gives each stack only the targets probed from its region', () => {
    const [europe, america] = built.stacks;
    expect(europe?.targets.map((target) => target.node.id)).toEqual(['Target-chat', 'Target-feed', 'Target-bulk']);
    expect(america?.targets.map((target) => target.node.id)).toEqual(['Target-chat']);
    const americaTemplate = Template.fromStack(america as Stack);
    americaTemplate.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    americaTemplate.resourceCountIs('AWS::Scheduler::Schedule', 1);
    americaTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'ws-ceiling-chat-regressed',
      Dimensions: [
        { Name: 'Region', Value: 'us-east-1' },
        { Name: 'Target', Value: 'chat' },
      ],
    });
  });

  it('leaves the account open when none is given (offline synth)', () => {
    const { stacks } = buildApp(testConfig(), { accountAgnostic: true });
    expect(stacks.map((stack) => Token.isUnresolved(stack.account))).toEqual([true, true]);
    expect(stacks.map((stack) => stack.region)).toEqual(['eu-west-1', 'us-east-1']);
  });
});

describe('checkWithCdkNag', () => {
  it('finds no error and no warning of the AwsSolutions pack in any stack', () => {
    for (const stack of built.stacks) {
      const report = new AwsSolutionsChecks(built.app).validateScope(stack);
      expect(
        report.violations.map((violation) => {
          const where = violation.violatingResources.map((resource) => resource.constructPath).join(', ');
          return `${violation.severity} ${violation.ruleName}: ${where}`;
        }),
      ).toEqual([]);
    }
  });

  it('finds nothing in the example config either', () => {
    const example = buildApp(loadConfigFile(EXAMPLE_CONFIG));
    example.app.synth();
    for (const stack of example.stacks)
      expect(new AwsSolutionsChecks(example.app).validateScope(stack).violations).toEqual([]);
  });

  it('acknowledges only explained findings: the runtime, the transient bucket, the wildcards IAM cannot narrow', () => {
    const europe = built.stacks[0] as Stack;
    const found = acknowledgements(europe);
    for (const [where, reason] of found) expect(reason.length, where).toBeGreaterThan(60);
    const rules = [...found.keys()].map((key) => key.split(' ')[1]);
    const bucket = logicalIdOf(europe.node.findChild('ShardResults').node.findChild('Bucket'));
    const bulkStateMachine = logicalIdOf(
      europe.node.findChild('Target-bulk').node.findChild('Run').node.findChild('StateMachine'),
    );
    const bulkStateMachineName = { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: bulkStateMachine }] }] };
    const bulkExecutions = `arn:aws:states:eu-west-1:${TEST_ACCOUNT}:execution:${JSON.stringify(bulkStateMachineName)}`;
    expect([...new Set(rules)].sort()).toEqual(
      [
        'AwsSolutions-L1',
        'AwsSolutions-S1',
        'AwsSolutions-IAM5[Resource::*]',
        `AwsSolutions-IAM5[Resource::<${bucket}.Arn>/runs/*]`,
        `AwsSolutions-IAM5[Resource::<${bucket}.Arn>/reports/*]`,
        // Publishing to the encrypted on-call topic (record step).
        'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
        // The deploy's mark (AwsCustomResource): its function's basic role, its namespace-limited PutMetricData.
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        // Each schedule's dead-letter queue, which nothing consumes.
        'AwsSolutions-SQS3',
        ...['chat', 'feed', 'bulk'].map((id) => `AwsSolutions-IAM5[Resource::<${bucket}.Arn>/runs/${id}/*]`),
        ...['Plan', 'Record'].map(
          (fn) =>
            `AwsSolutions-IAM5[Resource::<${logicalIdOf(europe.node.findChild(fn).node.findChild('Function'))}.Arn>:*]`,
        ),
        ...['chat', 'feed', 'bulk'].map((id) => {
          const worker = europe.node.findChild(`Target-${id}`).node.findChild('Worker').node.findChild('Function');
          return `AwsSolutions-IAM5[Resource::<${logicalIdOf(worker)}.Arn>:*]`;
        }),
        // Only bulk (50 shards) runs a Distributed Map: its own executions and their child executions.
        ...[':*', '/*:*'].map((suffix) => `AwsSolutions-IAM5[Resource::${bulkExecutions}${suffix}]`),
      ].sort(),
    );
  });

  it('fails the synth on an unexplained finding', () => {
    const failing = buildApp();
    checkWithCdkNag(failing.app);
    failing.stacks[0]?.plan.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] }),
    );
    expect(() => failing.app.synth()).toThrow(
      /wildcard permissions[\s\S]*ws-ceiling-eu-west-1\/Plan\/Role\/DefaultPolicy\/Resource[\s\S]*AwsSolutions-IAM5\[Resource::\*\]/,
    );
  });
});

describe('flattenReference', () => {
  it("names a resource as cdk-nag's own findings do", () => {
    const samples: unknown[] = [
      '*',
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket83908E77', 'Arn'] }, '/runs/chat/*']] },
      { Ref: 'Topic' },
      { 'Fn::Sub': 'arn:${AWS::Partition}:states:::execution' },
      { 'Fn::ImportValue': 'Shared' },
      { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: 'Machine' }] }] },
    ];
    for (const sample of samples) expect(flattenReference(sample)).toBe(flattenCfnReference(sample));
  });
});

describe('named deployments', () => {
  /** The test config under the deployment name `name`. */
  function named(name: string): WsCeilingConfig {
    return { ...testConfig(), name };
  }

  /** Every physical name a template sets (the properties that name a resource), with the stack's own name. */
  function physicalNames(config: WsCeilingConfig): string[] {
    const { stacks } = buildApp(config);
    return stacks.flatMap((stack) => {
      const template = Template.fromStack(stack).toJSON() as {
        Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
      };
      const found = Object.values(template.Resources).flatMap(({ Properties = {} }) =>
        ['TableName', 'StateMachineName', 'AlarmName', 'DashboardName', 'LogGroupName', 'Name', 'GroupName']
          .map((key) => Properties[key])
          .filter((value): value is string => typeof value === 'string'),
      );
      return [stack.stackName, ...found];
    });
  }

  it('prefixes the stacks and every physical name with the name, so two deployments share no name', () => {
    const staging = physicalNames(named('staging'));
    const prod = physicalNames(named('prod'));
    // Table, schedule group, dashboards, state machines, schedules, their log groups, every alarm, per region.
    expect(staging.length).toBeGreaterThan(60);
    expect(staging.filter((name) => prod.includes(name))).toEqual([]);
    const unnamed = physicalNames(testConfig());
    expect(staging.filter((name) => unnamed.includes(name))).toEqual([]);
    for (const name of staging) expect(name).toMatch(/^(\/aws\/vendedlogs\/states\/)?ws-ceiling-staging(-|$)/);
    expect(staging).toEqual(
      expect.arrayContaining([
        'ws-ceiling-staging-eu-west-1',
        'ws-ceiling-staging-runs',
        'ws-ceiling-staging',
        'ws-ceiling-staging-chat',
        '/aws/vendedlogs/states/ws-ceiling-staging-chat',
        'ws-ceiling-staging-chat-probe-missing',
      ]),
    );
    // Without a name, the names stay as they were.
    expect(unnamed).toEqual(
      expect.arrayContaining(['ws-ceiling-eu-west-1', 'ws-ceiling-runs', 'ws-ceiling', 'ws-ceiling-chat-regressed']),
    );
  });

  it('lets CloudWatch publish to the topic only for the named deployment’s alarms', () => {
    const { stacks } = buildApp(named('staging'));
    Template.fromStack(stacks[0] as Stack).hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Condition: Match.objectLike({
              ArnLike: { 'aws:SourceArn': `arn:aws:cloudwatch:eu-west-1:${TEST_ACCOUNT}:alarm:ws-ceiling-staging-*` },
            }),
          }),
        ]),
      },
    });
  });

  it('refuses a name that would make a schedule name longer than EventBridge Scheduler allows', () => {
    const long = { ...named('staging'), targets: [{ ...testConfig().targets[0], id: 'c'.repeat(48) }] };
    expect(() => parseConfig(long, 'long.json')).toThrow(
      /^targets\[0\]\.id: makes the schedule name ws-ceiling-staging-c{48} 67 characters long, above the 64/,
    );
  });
});

describe('bin/cdk-app (the app cdk.json runs)', () => {
  it('refuses a bad config at synth with exit 2 and the path of the bad field, writing no stack', () => {
    const folder = mkdtempSync(join(tmpdir(), 'cdk-app-bad-'));
    try {
      const config = join(folder, 'bad.config.json');
      const outdir = join(folder, 'cdk.out');
      const target = {
        id: 'chat',
        url: 'wss://chat.example.com/',
        regions: ['eu-west-1'],
        schedule: { cron: '0 2 * * ? *', timeZone: 'Europe/Paris', expectedEveryHours: 24 },
      };
      writeFileSync(config, JSON.stringify({ allowedHosts: ['chat.example.com'], targets: [target] }));
      const app = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'bin', 'cdk-app.js')], {
        cwd: REPO_ROOT,
        env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ config }), CDK_OUTDIR: outdir },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(app.status).toBe(2);
      expect(app.stderr).toContain(`error: targets[0].schedule.expectedEveryHours: must be at least 48, got 24`);
      expect(app.stderr).toContain(`(in ${config})`);
      expect(existsSync(join(outdir, 'ws-ceiling-eu-west-1.template.json'))).toBe(false);

      // The plan the plan step would refuse on every run is refused at synth, with the field and the fix.
      const huge = { ...target, schedule: { cron: '0 2 * * ? *', timeZone: 'UTC' }, plan: HUGE_PLAN };
      writeFileSync(config, JSON.stringify({ allowedHosts: ['chat.example.com'], targets: [huge] }));
      const hugeApp = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'bin', 'cdk-app.js')], {
        cwd: REPO_ROOT,
        env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ config }), CDK_OUTDIR: outdir },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(hugeApp.status).toBe(2);
      expect(hugeApp.stderr).toMatch(
        /^error: targets\[0\]\.plan\.stages: 7 stages over 112 workers make a run state of about 256 KB, above the 243 KB a run may use of the 256 KB Step Functions allows for a state .*; plan at most 6 stages, or fewer connections \(in /,
      );
      expect(existsSync(join(outdir, 'ws-ceiling-eu-west-1.template.json'))).toBe(false);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('cdk synth of the example config', () => {
  let outdir: string;
  let example: SynthesizedApp;

  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'cdk-synth-'));
    // What `cdk synth` does on a fresh clone: real esbuild bundles, CDK's CloudFormation validation, cdk-nag.
    example = buildApp(loadConfigFile(EXAMPLE_CONFIG), { bundle: true, validate: true, outdir });
    checkWithCdkNag(example.app);
    example.app.synth();
  }, 120_000);

  afterAll(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  it('passes CloudFormation validation and cdk-nag with no finding', () => {
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: unknown[];
    };
    expect(report.pluginReports).toEqual([]);
  });

  it('bundles each function with esbuild into an ES module that exports its handler', async () => {
    const assets = readdirSync(outdir).filter(
      (name) => name.startsWith('asset.') && existsSync(join(outdir, name, 'index.mjs')),
    );
    // Plan, record and one worker bundle: every target's worker is the same code.
    expect(assets).toHaveLength(3);
    for (const asset of assets) {
      const bundle = join(outdir, asset, 'index.mjs');
      expect(existsSync(bundle)).toBe(true);
      expect(existsSync(`${bundle}.map`)).toBe(true);
      expect(readFileSync(bundle, 'utf8').startsWith("import { createRequire } from 'node:module'")).toBe(true);
      const loaded = (await import(pathToFileURL(bundle).href)) as { handler?: unknown };
      expect(typeof loaded.handler).toBe('function');
    }
    const europe = Template.fromStack(example.stacks[0] as Stack);
    const codeKeys = resourcesOf(europe, 'AWS::Lambda::Function')
      .filter(([, resource]) => String(resource.Properties.Handler) === 'index.handler')
      .map(([, resource]) => (resource.Properties.Code as { S3Key: string }).S3Key);
    const ours = new Set(assets.map((asset) => `${asset.slice('asset.'.length)}.zip`));
    // Besides ours, the one function of CDK's AwsCustomResource that publishes the deploy's mark.
    expect(codeKeys.filter((key) => ours.has(key)).length).toBe(codeKeys.length - 1);
    expect(new Set(codeKeys.filter((key) => ours.has(key)))).toEqual(ours);
  });
});
