/**
 * Shared set-up of the CDK tests: test configs validated by the real config
 * schema, and a synthesized region stack with the feature flags of cdk.json.
 * Bundling is skipped unless asked for (esbuild runs in one test only).
 */
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TargetConfig, WsCeilingConfig } from '../../functions/config/config-types.js';
import type { IConstruct } from 'constructs';
import { parseConfig } from '../../functions/config/target-config.js';
import { addRegionStacks } from '../../lib/probe-app.js';
import type { RegionStack } from '../../lib/region-stack.js';
import type { ProbeTarget } from '../../lib/probe-target.js';

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Account id the test stacks are deployed to. */
export const TEST_ACCOUNT = '123456789012';

/** The region most tests synthesize. */
export const TEST_REGION = 'eu-west-1';

/**
 * The config most tests use, in the file's own form (defaults are filled by the schema):
 * - `chat`: enabled, a floor, a secret header, daily at 02:00 Paris time, probed from two regions;
 * - `feed`: disabled, no floor, twice a week, expected every 168 h;
 * - `bulk`: 45,000 connections at 900 per shard (50 shards: a Distributed Map).
 */
const TEST_CONFIG_FILE = {
  allowedHosts: ['chat.example.com', 'feed.example.com', 'bulk.example.com'],
  onCall: [
    { kind: 'email', address: 'oncall@example.com' },
    { kind: 'https', url: 'https://hooks.example.com/ws-ceiling' },
  ],
  targets: [
    {
      id: 'chat',
      url: 'wss://chat.example.com/socket',
      regions: ['eu-west-1', 'us-east-1'],
      schedule: { cron: '0 2 * * ? *', timeZone: 'Europe/Paris' },
      headers: {
        Authorization: { secretName: 'chat/probe-token', prefix: 'Bearer ' },
        'X-Api-Key': { secretName: 'chat/api-key', jsonKey: 'key' },
        'X-Client': 'ws-ceiling',
      },
      plan: { stages: [50, 100, 150, 200], holdSeconds: 60, connectRate: 50 },
      floor: 150,
      regressionTolerance: 0.15,
    },
    {
      id: 'feed',
      url: 'wss://feed.example.com/live',
      regions: ['eu-west-1'],
      enabled: false,
      schedule: { cron: '30 3 ? * MON,THU *', timeZone: 'UTC', expectedEveryHours: 168 },
      plan: { start: 100, step: 100, max: 1000, holdSeconds: 30 },
      workerMemoryMb: 1024,
    },
    {
      id: 'bulk',
      url: 'wss://bulk.example.com/ws',
      regions: ['eu-west-1'],
      schedule: { cron: '0 4 * * ? *', timeZone: 'UTC', expectedEveryHours: 36 },
      plan: {
        stages: [15_000, 30_000, 45_000],
        holdSeconds: 60,
        connectRate: 1000,
        maxConnections: 45_000,
        shardSize: 900,
      },
    },
  ],
};

/** A validated config, from the config file form (the real schema fills the defaults). */
export function testConfig(): WsCeilingConfig {
  return parseConfig(TEST_CONFIG_FILE, 'test config');
}

/** The test config's target `id`. */
export function testTarget(id: string): TargetConfig {
  const found = testConfig().targets.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`no target ${id} in the test config`);
  return found;
}

/** The ProbeTarget construct of target `id` in `stack`. */
export function probeTargetOf(stack: RegionStack, id: string): ProbeTarget {
  const found = stack.targets.find((candidate) => candidate.node.id === `Target-${id}`);
  if (!found) throw new Error(`no target ${id} in the stack`);
  return found;
}

/** A synthesized app of the test config. */
export interface SynthesizedApp {
  app: App;
  stacks: RegionStack[];
}

/** The feature flags of cdk.json, so tests synthesize what `cdk synth` does. */
function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  };
  return cdkJson.context;
}

/** How a test app is synthesized. */
export interface BuildOptions {
  /** Bundle the functions with esbuild (slow): skipped by default. */
  bundle?: boolean;
  /**
   * Run CDK's built-in CloudFormation validation at synth (as `cdk synth`
   * does): its 10 MB WebAssembly rule set takes 5 to 20 s to load, so only
   * the tests about it turn it on.
   */
  validate?: boolean;
  /** Leave the account open, as an offline `cdk synth` does (default: {@link TEST_ACCOUNT}). */
  accountAgnostic?: boolean;
  /** Cloud assembly folder; a fresh temporary one (removed by {@link removeAssemblies}) when not given. */
  outdir?: string;
}

/** Temporary cloud assembly folders of this test file's apps. */
const assemblies: string[] = [];

/** Removes the temporary cloud assembly folders of every app built so far (call in afterAll). */
export function removeAssemblies(): void {
  for (const folder of assemblies.splice(0)) rmSync(folder, { recursive: true, force: true });
}

/** Builds (not yet synthesizes) the stacks of `config`. */
export function buildApp(config: WsCeilingConfig = testConfig(), options: BuildOptions = {}): SynthesizedApp {
  const outdir = options.outdir ?? mkdtempSync(join(tmpdir(), 'ws-ceiling-cdk-'));
  if (!options.outdir) assemblies.push(outdir);
  const app = new App({
    builtinCloudFormationValidation: options.validate ?? false,
    context: { ...cdkJsonContext(), ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
    outdir,
  });
  const stacks = addRegionStacks(app, config, options.accountAgnostic ? {} : { account: TEST_ACCOUNT });
  return { app, stacks };
}

/** The region stack of `region` in `built`. */
export function stackOf(built: SynthesizedApp, region: string = TEST_REGION): RegionStack {
  const stack = built.stacks.find((candidate) => candidate.region === region);
  if (!stack) throw new Error(`no stack for ${region}`);
  return stack;
}

/** One resource of a synthesized template: its type and properties (the other attributes are not read here). */
export interface TemplateResource {
  Type: string;
  Properties: Record<string, unknown>;
}

/** Every resource of `type` in `template`, by logical id. */
export function resourcesOf(template: Template, type: string): Array<[string, TemplateResource]> {
  return Object.entries(template.findResources(type)) as Array<[string, TemplateResource]>;
}

/** The resource `logicalId` of `template`; throws when there is none. */
export function resourceOf(template: Template, logicalId: string): TemplateResource {
  const { Resources } = template.toJSON() as { Resources: Record<string, TemplateResource | undefined> };
  const found = Resources[logicalId];
  if (!found) throw new Error(`no resource ${logicalId} in the template`);
  return found;
}

/** The logical id of a CloudFormation element, or of an L2 construct's main resource. */
export function logicalIdOf(construct: IConstruct): string {
  const element = construct instanceof CfnElement ? construct : construct.node.defaultChild;
  if (!(element instanceof CfnElement)) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return Stack.of(element).resolve(element.logicalId) as string;
}

/** One IAM policy statement as synthesized. */
export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
}

/** Every statement of every policy attached to the role `roleLogicalId`. */
export function statementsOfRole(template: Template, roleLogicalId: string): Statement[] {
  return resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, policy]) =>
      (policy.Properties.Roles as unknown[]).some(
        (role) => JSON.stringify(role) === JSON.stringify({ Ref: roleLogicalId }),
      ),
    )
    .flatMap(([, policy]) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

/** Every action a role is allowed, each once, sorted. */
export function actionsOfRole(template: Template, roleLogicalId: string): string[] {
  const actions = statementsOfRole(template, roleLogicalId).flatMap((statement) => [statement.Action].flat());
  return [...new Set(actions)].sort();
}
