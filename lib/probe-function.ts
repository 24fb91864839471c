/**
 * One deployed ws-ceiling function with the project's defaults set once:
 * Node.js 22 on arm64, bundled by esbuild from node_modules (never Docker)
 * into minified ESM with source maps, its own log group with a retention,
 * Lambda's JSON log format (the handlers write one JSON object per line, and
 * Lambda's own start, end and report lines come as JSON too), and its own
 * role that can write only to that log group. Callers add the rest of what
 * the function needs through grants on the role.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { join } from 'node:path';
import { acknowledgeRule, acknowledgeWildcards, defaultPolicyOf, type WildcardReason } from './nag-acknowledgements.js';
import { handlerEntry, sourceRoot, type HandlerName } from './source-root.js';

/** How long function logs are kept. */
export const FUNCTION_LOG_RETENTION = RetentionDays.ONE_MONTH;

/**
 * esbuild banner of every bundle: the sources are ESM, and some dependencies
 * still call `require`, which an ES module does not have.
 */
const CREATE_REQUIRE_BANNER =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/** What differs between the functions. */
export interface ProbeFunctionProps {
  /** The handler under `functions/handlers/` (exporting `handler`). */
  handler: HandlerName;
  description: string;
  memorySize: number;
  timeout: Duration;
  environment: Record<string, string>;
  /** Concurrent executions reserved for the function; none by default. */
  reservedConcurrentExecutions?: number;
}

/** A NodejsFunction with the project's defaults, its log group and a role that holds nothing else. */
export class ProbeFunction extends Construct {
  /** The function. */
  readonly function: NodejsFunction;
  /** Its execution role: grant what the function needs to this. */
  readonly role: Role;
  /** Where the function logs. */
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: ProbeFunctionProps) {
    super(scope, id);
    const root = sourceRoot();
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: FUNCTION_LOG_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the ws-ceiling ${props.handler}: writes its own logs, plus the grants its construct adds`,
    });
    this.logGroup.grantWrite(this.role);
    this.function = new NodejsFunction(this, 'Function', {
      entry: handlerEntry(root, props.handler),
      handler: 'handler',
      projectRoot: root,
      depsLockFilePath: join(root, 'package-lock.json'),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      description: props.description,
      memorySize: props.memorySize,
      timeout: props.timeout,
      ...(props.reservedConcurrentExecutions !== undefined
        ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions }
        : {}),
      // Stack traces point into the TypeScript sources.
      environment: { ...props.environment, NODE_OPTIONS: '--enable-source-maps' },
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      bundling: {
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: CREATE_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        forceDockerBundling: false,
        // Bundle the AWS SDK too: the handlers run on the versions they were tested with.
        externalModules: [],
      },
    });
    acknowledgeRule(
      this.function,
      'L1',
      'Node.js 22 is the runtime ws-ceiling is specified for and tested on (its engine supports Node 20 and ' +
        'later); moving to a newer runtime is a deliberate change, not a default',
    );
  }

  /** Acknowledges the wildcard resources of the role's grants that `reasons` explain; call after the last grant. */
  protected acknowledgeWildcards(reasons: WildcardReason[]): void {
    acknowledgeWildcards(defaultPolicyOf(this.role), reasons);
  }
}
