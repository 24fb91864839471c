import { Stack, Token, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../functions/config/target-config.js';
import { stackName } from '../../functions/steps/deployment-names.js';
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
    const assets = readdirSync(outdir).filter((name) => name.startsWith('asset.'));
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
    const codeKeys = resourcesOf(europe, 'AWS::Lambda::Function').map(
      ([, resource]) => (resource.Properties.Code as { S3Key: string }).S3Key,
    );
    expect(new Set(codeKeys)).toEqual(new Set(assets.map((asset) => `${asset.slice('asset.'.length)}.zip`)));
  });
});
