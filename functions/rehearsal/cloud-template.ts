/**
 * A synthesized CloudFormation template as the rehearsal reads it: every
 * resource gets the physical name and ARN it would have in the rehearsed
 * region (its own name property where the template sets one, a stable local
 * name otherwise), and CloudFormation's intrinsic functions (Ref, Fn::GetAtt,
 * Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::If and the pseudo parameters)
 * are resolved against those names, so an environment variable, a state
 * machine definition or an alarm's dimension reads as it would once deployed.
 * Pure.
 */

/** One resource of a template. */
export interface TemplateResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

/** The parts of a template the rehearsal reads. */
export interface CloudTemplate {
  Resources: Record<string, TemplateResource>;
  Parameters?: Record<string, { Default?: unknown }>;
  Conditions?: Record<string, unknown>;
}

/** Where the template is rehearsed. */
export interface TemplatePlace {
  stackName: string;
  region: string;
  /** Account id the ARNs carry (an offline synth leaves it open). */
  account: string;
}

/** A template whose values can be resolved. */
export interface ResolvedTemplate {
  template: CloudTemplate;
  place: TemplatePlace;
  /** The value of `value` with every intrinsic function resolved. */
  resolve(value: unknown): unknown;
  /** What `Ref` of a resource gives. */
  ref(logicalId: string): string;
  /** What `Fn::GetAtt` of a resource gives. */
  attribute(logicalId: string, name: string): string;
}

/** An intrinsic function or reference the rehearsal cannot resolve: it names what, and where. */
class UnresolvableTemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnresolvableTemplateError';
  }
}

/** A scalar of a template as text (numbers and booleans too); `fallback` for anything else. */
export function textOf(value: unknown, fallback = ''): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : fallback;
}

/** What a resource's Ref and attributes are, by its type. */
interface PhysicalId {
  ref: string;
  attributes: Record<string, string>;
}

/** The resolver of `template` as deployed at `place`. */
export function resolvedTemplate(template: CloudTemplate, place: TemplatePlace): ResolvedTemplate {
  const ids = new Map<string, PhysicalId>();
  const physical = (logicalId: string): PhysicalId => {
    const known = ids.get(logicalId);
    if (known) return known;
    const resource = template.Resources[logicalId];
    if (!resource) throw new UnresolvableTemplateError(`the template has no resource ${logicalId}`);
    const id = physicalIdOf(logicalId, resource, place, (value) => resolveValue(value));
    ids.set(logicalId, id);
    return id;
  };
  const ref = (name: string): string => {
    const pseudo = pseudoParameter(name, place);
    if (pseudo !== undefined) return pseudo;
    const parameter = template.Parameters?.[name];
    if (parameter) return textOf(parameter.Default);
    return physical(name).ref;
  };
  const attribute = (logicalId: string, name: string): string => {
    const value = physical(logicalId).attributes[name];
    if (value === undefined) {
      throw new UnresolvableTemplateError(
        `Fn::GetAtt ${logicalId}.${name}: the rehearsal does not know this attribute`,
      );
    }
    return value;
  };
  const condition = (name: string): boolean => {
    const definition = template.Conditions?.[name];
    if (definition === undefined) throw new UnresolvableTemplateError(`the template has no condition ${name}`);
    return Boolean(resolveValue(definition));
  };
  const resolveValue = (value: unknown): unknown =>
    resolveIntrinsics(value, { ref, attribute, condition, region: place.region });
  return { template, place, resolve: resolveValue, ref, attribute };
}

interface Resolvers {
  ref: (name: string) => string;
  attribute: (logicalId: string, name: string) => string;
  condition: (name: string) => boolean;
  region: string;
}

/** Marks a property `Ref: AWS::NoValue` removes. */
const NO_VALUE = Symbol('AWS::NoValue');

function resolveIntrinsics(value: unknown, resolvers: Resolvers): unknown {
  const resolved = resolveNode(value, resolvers);
  return resolved === NO_VALUE ? undefined : resolved;
}

function resolveNode(value: unknown, r: Resolvers): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveNode(item, r)).filter((item) => item !== NO_VALUE);
  if (value === null || typeof value !== 'object') return value;
  const node = value as Record<string, unknown>;
  const keys = Object.keys(node);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const argument = node[key];
    switch (key) {
      case 'Ref':
        return argument === 'AWS::NoValue' ? NO_VALUE : r.ref(String(argument));
      case 'Fn::GetAtt': {
        const [logicalId, name] = (Array.isArray(argument) ? argument : textOf(argument).split(/\.(.*)/s)) as unknown[];
        return r.attribute(textOf(logicalId), textOf(resolveNode(name, r)));
      }
      case 'Fn::Join': {
        const [delimiter, items] = argument as [string, unknown];
        return (resolveNode(items, r) as unknown[]).map((item) => String(item)).join(delimiter);
      }
      case 'Fn::Sub':
        return substitute(argument, r);
      case 'Fn::Select': {
        const [index, items] = argument as [unknown, unknown];
        return (resolveNode(items, r) as unknown[])[Number(resolveNode(index, r))];
      }
      case 'Fn::Split': {
        const [delimiter, text] = argument as [string, unknown];
        return String(resolveNode(text, r)).split(delimiter);
      }
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((zone) => `${r.region}${zone}`);
      case 'Fn::If': {
        const [name, whenTrue, whenFalse] = argument as [string, unknown, unknown];
        return resolveNode(r.condition(name) ? whenTrue : whenFalse, r);
      }
      case 'Fn::Equals': {
        const [left, right] = argument as [unknown, unknown];
        return JSON.stringify(resolveNode(left, r)) === JSON.stringify(resolveNode(right, r));
      }
      case 'Fn::Not':
        return !(resolveNode((argument as unknown[])[0], r) as boolean);
      case 'Fn::And':
        return (argument as unknown[]).every((item) => resolveNode(item, r) === true);
      case 'Fn::Or':
        return (argument as unknown[]).some((item) => resolveNode(item, r) === true);
      case 'Condition':
        return r.condition(String(argument));
      default:
        if (key.startsWith('Fn::'))
          throw new UnresolvableTemplateError(`${key} cannot be resolved on this machine (it needs another stack)`);
    }
  }
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(node)) {
    const resolved = resolveNode(item, r);
    if (resolved !== NO_VALUE) result[key] = resolved;
  }
  return result;
}

/** Fn::Sub, in its string and its [string, variables] forms. */
function substitute(argument: unknown, r: Resolvers): string {
  const [text, variables] = Array.isArray(argument)
    ? [String(argument[0]), resolveNode(argument[1] ?? {}, r) as Record<string, unknown>]
    : [String(argument), {}];
  return text.replace(/\$\{(!?)([^}]+)\}/g, (_match, literal: string, name: string) => {
    if (literal) return `\${${name}}`;
    if (name in variables) return String(variables[name]);
    const dot = name.indexOf('.');
    return dot > 0 ? r.attribute(name.slice(0, dot), name.slice(dot + 1)) : r.ref(name);
  });
}

function pseudoParameter(name: string, place: TemplatePlace): string | undefined {
  switch (name) {
    case 'AWS::Region':
      return place.region;
    case 'AWS::AccountId':
      return place.account;
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::StackName':
      return place.stackName;
    case 'AWS::StackId':
      return `arn:aws:cloudformation:${place.region}:${place.account}:stack/${place.stackName}/local`;
    default:
      return undefined;
  }
}

/**
 * A resource's physical name and attributes: its own name property when the
 * template sets one, else `<stack>-<logical id>` cut to the service's limit
 * (lower case for a bucket), as CloudFormation would generate one.
 */
function physicalIdOf(
  logicalId: string,
  resource: TemplateResource,
  place: TemplatePlace,
  resolve: (value: unknown) => unknown,
): PhysicalId {
  const { region, account, stackName } = place;
  const own = (property: string, maxLength: number, lower = false): string => {
    const given = resource.Properties?.[property];
    if (given !== undefined) return textOf(resolve(given));
    const generated = `${stackName}-${logicalId}`.slice(0, maxLength);
    return lower ? generated.toLowerCase().replace(/[^a-z0-9.-]/g, '-') : generated;
  };
  switch (resource.Type) {
    case 'AWS::Lambda::Function': {
      const name = own('FunctionName', 64);
      return { ref: name, attributes: { Arn: `arn:aws:lambda:${region}:${account}:function:${name}` } };
    }
    case 'AWS::DynamoDB::Table': {
      const name = own('TableName', 255);
      const arn = `arn:aws:dynamodb:${region}:${account}:table/${name}`;
      return { ref: name, attributes: { Arn: arn, StreamArn: `${arn}/stream/local` } };
    }
    case 'AWS::S3::Bucket': {
      const name = own('BucketName', 63, true);
      return {
        ref: name,
        attributes: {
          Arn: `arn:aws:s3:::${name}`,
          DomainName: `${name}.s3.amazonaws.com`,
          RegionalDomainName: `${name}.s3.${region}.amazonaws.com`,
        },
      };
    }
    case 'AWS::SNS::Topic': {
      const name = own('TopicName', 256);
      const arn = `arn:aws:sns:${region}:${account}:${name}`;
      return { ref: arn, attributes: { TopicArn: arn, TopicName: name } };
    }
    case 'AWS::SQS::Queue': {
      const name = own('QueueName', 80);
      return {
        ref: `https://sqs.${region}.amazonaws.com/${account}/${name}`,
        attributes: { Arn: `arn:aws:sqs:${region}:${account}:${name}`, QueueName: name },
      };
    }
    case 'AWS::StepFunctions::StateMachine': {
      const name = own('StateMachineName', 80);
      const arn = `arn:aws:states:${region}:${account}:stateMachine:${name}`;
      return { ref: arn, attributes: { Arn: arn, Name: name } };
    }
    case 'AWS::IAM::Role': {
      const name = own('RoleName', 64);
      return { ref: name, attributes: { Arn: `arn:aws:iam::${account}:role/${name}`, RoleId: `local-${logicalId}` } };
    }
    case 'AWS::Logs::LogGroup': {
      const name = own('LogGroupName', 512);
      return { ref: name, attributes: { Arn: `arn:aws:logs:${region}:${account}:log-group:${name}:*` } };
    }
    case 'AWS::CloudWatch::Alarm': {
      const name = own('AlarmName', 255);
      return { ref: name, attributes: { Arn: `arn:aws:cloudwatch:${region}:${account}:alarm:${name}` } };
    }
    default: {
      const name = `${stackName}-${logicalId}`;
      const service = resource.Type.split('::')[1]?.toLowerCase() ?? 'local';
      return {
        ref: name,
        attributes: new Proxy(
          {},
          {
            get: (_target, attribute: string) =>
              attribute === 'Arn' ? `arn:aws:${service}:${region}:${account}:${logicalId}` : `${name}.${attribute}`,
          },
        ),
      };
    }
  }
}
