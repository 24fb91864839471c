/**
 * What a rehearsal needs from a region's synthesized template, read
 * generically by resource type: every Lambda function (memory, timeout,
 * environment, handler, code asset), every DynamoDB table (keys and indexes),
 * every bucket and topic, every state machine (its definition as deployed),
 * every schedule (the state machine it starts and its input) and every
 * CloudWatch alarm, all with their intrinsic functions resolved. Pure.
 */
import { textOf, type ResolvedTemplate, type TemplateResource } from './cloud-template.js';

/** Lambda's defaults when a function sets no memory size or timeout. */
const LAMBDA_DEFAULT_MEMORY_MB = 128;
const LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3;

/** A Lambda function of the template. */
export interface TemplateFunction {
  logicalId: string;
  name: string;
  arn: string;
  /** `file.export`, e.g. `index.handler`. */
  handler: string;
  runtime: string;
  memoryMb: number;
  timeoutSeconds: number;
  /** Its environment variables, resolved. */
  environment: Record<string, string>;
  /** The S3 key of its code asset, which the cloud assembly maps to a folder. */
  codeKey: string | undefined;
}

/** A DynamoDB table of the template, in the shape CreateTable takes. */
export interface TemplateTable {
  logicalId: string;
  name: string;
  keySchema: Array<{ AttributeName: string; KeyType: string }>;
  attributeDefinitions: Array<{ AttributeName: string; AttributeType: string }>;
  /** `PAY_PER_REQUEST` or `PROVISIONED` (CloudFormation's default when the template sets none). */
  billingMode: string;
  /** The table's throughput, when provisioned. */
  provisionedThroughput?: Record<string, unknown>;
  globalSecondaryIndexes?: Array<Record<string, unknown>>;
  localSecondaryIndexes?: Array<Record<string, unknown>>;
}

/** A state machine of the template. */
export interface TemplateStateMachine {
  logicalId: string;
  name: string;
  arn: string;
  /** The Amazon States Language definition as it would be deployed. */
  definition: Record<string, unknown>;
}

/** A schedule: which state machine it starts, with which input. */
export interface TemplateSchedule {
  logicalId: string;
  targetArn: string;
  input: string | undefined;
}

/** A CloudWatch alarm with its properties resolved (as CloudFormation names them). */
export interface TemplateAlarm {
  logicalId: string;
  name: string;
  properties: Record<string, unknown>;
}

/** Everything the rehearsal reads from a template. */
export interface RehearsalResources {
  functions: TemplateFunction[];
  tables: TemplateTable[];
  /** Bucket names. */
  buckets: string[];
  /** Topic ARNs. */
  topics: string[];
  stateMachines: TemplateStateMachine[];
  schedules: TemplateSchedule[];
  alarms: TemplateAlarm[];
}

/** Reads the resources of a resolved template. */
export function readRehearsalResources(resolved: ResolvedTemplate): RehearsalResources {
  const of = (type: string): Array<[string, TemplateResource]> =>
    Object.entries(resolved.template.Resources).filter(([, resource]) => resource.Type === type);
  const properties = (resource: TemplateResource): Record<string, unknown> =>
    (resolved.resolve(resource.Properties ?? {}) as Record<string, unknown>) ?? {};
  return {
    functions: of('AWS::Lambda::Function').map(([logicalId, resource]) => {
      const props = properties(resource);
      const code = (props.Code ?? {}) as { S3Key?: unknown };
      const variables = ((props.Environment ?? {}) as { Variables?: Record<string, unknown> }).Variables ?? {};
      return {
        logicalId,
        name: resolved.ref(logicalId),
        arn: resolved.attribute(logicalId, 'Arn'),
        handler: textOf(props.Handler, 'index.handler'),
        runtime: textOf(props.Runtime),
        memoryMb: Number(props.MemorySize ?? LAMBDA_DEFAULT_MEMORY_MB),
        timeoutSeconds: Number(props.Timeout ?? LAMBDA_DEFAULT_TIMEOUT_SECONDS),
        environment: Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, String(value)])),
        codeKey: typeof code.S3Key === 'string' ? code.S3Key : undefined,
      };
    }),
    tables: of('AWS::DynamoDB::Table').map(([logicalId, resource]) => {
      const props = properties(resource);
      return {
        logicalId,
        name: resolved.ref(logicalId),
        keySchema: props.KeySchema as TemplateTable['keySchema'],
        attributeDefinitions: props.AttributeDefinitions as TemplateTable['attributeDefinitions'],
        billingMode: textOf(props.BillingMode, 'PROVISIONED'),
        ...(props.ProvisionedThroughput
          ? { provisionedThroughput: props.ProvisionedThroughput as Record<string, unknown> }
          : {}),
        ...(props.GlobalSecondaryIndexes
          ? { globalSecondaryIndexes: props.GlobalSecondaryIndexes as Array<Record<string, unknown>> }
          : {}),
        ...(props.LocalSecondaryIndexes
          ? { localSecondaryIndexes: props.LocalSecondaryIndexes as Array<Record<string, unknown>> }
          : {}),
      };
    }),
    buckets: of('AWS::S3::Bucket').map(([logicalId]) => resolved.ref(logicalId)),
    topics: of('AWS::SNS::Topic').map(([logicalId]) => resolved.ref(logicalId)),
    stateMachines: of('AWS::StepFunctions::StateMachine').map(([logicalId, resource]) => {
      const props = properties(resource);
      return {
        logicalId,
        name: resolved.attribute(logicalId, 'Name'),
        arn: resolved.ref(logicalId),
        definition: definitionOf(props),
      };
    }),
    schedules: of('AWS::Scheduler::Schedule').map(([logicalId, resource]) => {
      const target = (properties(resource).Target ?? {}) as { Arn?: unknown; Input?: unknown };
      return {
        logicalId,
        targetArn: textOf(target.Arn),
        input: typeof target.Input === 'string' ? target.Input : undefined,
      };
    }),
    alarms: of('AWS::CloudWatch::Alarm').map(([logicalId, resource]) => ({
      logicalId,
      name: resolved.ref(logicalId),
      properties: properties(resource),
    })),
  };
}

/** The definition of a state machine's resolved properties: DefinitionString or Definition, with its substitutions. */
function definitionOf(props: Record<string, unknown>): Record<string, unknown> {
  let text = textOf(props.DefinitionString, JSON.stringify(props.Definition ?? {}));
  const substitutions = (props.DefinitionSubstitutions ?? {}) as Record<string, unknown>;
  for (const [name, value] of Object.entries(substitutions)) text = text.split(`\${${name}}`).join(textOf(value));
  return JSON.parse(text) as Record<string, unknown>;
}
