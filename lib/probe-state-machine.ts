/**
 * The state machine of one target's run: plan → every shard's worker started
 * together → record. A worker that fails or times out is caught inside its
 * own iteration and becomes a `FailedShard`, so the run always reaches the
 * record step, which makes it inconclusive (never a low ceiling). Up to
 * {@link INLINE_MAP_MAX_CONCURRENCY} shards run in an inline Map; more need a
 * Distributed Map, whose child executions can all run at once. The map's
 * concurrency is fixed here from the deployed plan, and the plan state hands
 * it to the plan step, which refuses a run with another shard count.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Policy } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import {
  DefinitionBody,
  DistributedMap,
  JsonPath,
  LogLevel,
  Map as MapState,
  Pass,
  StateMachine,
  StateMachineType,
  TaskInput,
  type IChainable,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { TargetConfig } from '../functions/config/config-types.js';
import { shardCount, workerTimeoutSeconds } from '../functions/config/worker-budget.js';
import { stateMachineName } from '../functions/steps/deployment-names.js';
import type { PlanStepInput } from '../functions/steps/step-payloads.js';
import { acknowledgeWildcards, defaultPolicyOf, flatResource } from './nag-acknowledgements.js';
import { FUNCTION_LOG_RETENTION } from './probe-function.js';
import { RECORD_RETRY, stateMachineTimeoutSeconds } from '../functions/config/run-budget.js';

/** The most iterations an inline Map state runs at once; more shards need a Distributed Map. */
export const INLINE_MAP_MAX_CONCURRENCY = 40;

/** Where the map reads its items (PlanStepOutput.shardTasks) and puts its results (RecordStepInput.shards). */
export const MAP_PATHS = { items: '$.shardTasks', results: '$.shards' } as const;

/** What a target's state machine runs. */
export interface ProbeStateMachineProps {
  target: TargetConfig;
  plan: IFunction;
  worker: IFunction;
  record: IFunction;
}

/** One target's run: plan, all shards at once, record. */
export class ProbeStateMachine extends Construct {
  /** The state machine (named `stateMachineName(target.id)`). */
  readonly stateMachine: StateMachine;
  /** Workers the run starts, all at once. */
  readonly shards: number;

  constructor(scope: Construct, id: string, props: ProbeStateMachineProps) {
    super(scope, id);
    this.shards = shardCount(props.target.plan);
    const planInput: Record<keyof PlanStepInput, unknown> = {
      request: JsonPath.entirePayload,
      shardsAtOnce: this.shards,
    };
    const plan = LambdaInvoke.jsonPath(this, 'Plan', {
      lambdaFunction: props.plan,
      payloadResponseOnly: true,
      payload: TaskInput.fromObject(planInput),
      comment:
        `Validate the target and lay out the run of ${this.shards} shard(s), all started at once (input: ` +
        'PlanStepInput, output: PlanStepOutput)',
    });
    const record = LambdaInvoke.jsonPath(this, 'Record', {
      lambdaFunction: props.record,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      comment: 'Merge the shards, decide the verdict, write the run once, publish metrics (output: RecordStepOutput)',
    }).addRetry({
      errors: ['States.ALL'],
      maxAttempts: RECORD_RETRY.maxAttempts,
      interval: Duration.seconds(RECORD_RETRY.intervalSeconds),
      backoffRate: RECORD_RETRY.backoffRate,
    });
    const logGroup = new LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${stateMachineName(props.target.id)}`,
      retention: FUNCTION_LOG_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: stateMachineName(props.target.id),
      stateMachineType: StateMachineType.STANDARD,
      comment: `ws-ceiling run of target ${props.target.id}: plan, ${this.shards} shard(s) at once, record`,
      definitionBody: DefinitionBody.fromChainable(plan.next(this.shardMap(props.worker)).next(record)),
      timeout: Duration.seconds(stateMachineTimeoutSeconds(workerTimeoutSeconds(props.target.plan))),
      tracingEnabled: true,
      // Payloads hold the target's URL; they stay out of the logs.
      logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: false },
    });
    this.acknowledgeWildcards(props);
  }

  /** Explains the wildcards CDK's Step Functions grants need (cdk-nag IAM5). */
  private acknowledgeWildcards(props: ProbeStateMachineProps): void {
    const functionArns = [props.plan, props.worker, props.record].map(
      (fn) => `${flatResource(this, fn.functionArn)}:*`,
    );
    acknowledgeWildcards(defaultPolicyOf(this.stateMachine.role), [
      {
        matches: (resource) => functionArns.includes(resource),
        reason:
          'LambdaInvoke grants the versions and aliases (<function ARN>:*) of exactly the plan, worker and ' +
          'record functions it invokes',
      },
      {
        matches: (resource) => resource === '*',
        reason:
          'X-Ray tracing (xray:PutTraceSegments, …) and CloudWatch Logs delivery (logs:CreateLogDelivery, …) ' +
          'support no resource-level permission',
      },
    ]);
    const distributedMapPolicy = this.stateMachine.node.tryFindChild('DistributedMapPolicy');
    if (distributedMapPolicy instanceof Policy) {
      acknowledgeWildcards(distributedMapPolicy, [
        {
          matches: (resource) => resource.includes(':execution:'),
          reason:
            'A Distributed Map describes, stops and redrives its own child executions, whose names are generated ' +
            "at run time; the grant covers only this state machine's executions",
        },
      ]);
    }
  }

  /** The map over the shards: inline up to 40, distributed beyond, every shard started at once. */
  private shardMap(worker: IFunction): MapState | DistributedMap {
    const iteration = this.shardIteration(worker);
    const options = {
      itemsPath: MAP_PATHS.items,
      resultPath: MAP_PATHS.results,
      maxConcurrency: this.shards,
      comment: 'Run every shard at once; a failed worker becomes a FailedShard',
    };
    if (this.shards <= INLINE_MAP_MAX_CONCURRENCY) {
      return MapState.jsonPath(this, 'Shards', options).itemProcessor(iteration);
    }
    return DistributedMap.jsonPath(this, 'Shards', {
      ...options,
      mapExecutionType: StateMachineType.STANDARD,
    }).itemProcessor(iteration);
  }

  /** One iteration: invoke the worker with its ShardTask; any failure or timeout becomes a FailedShard. */
  private shardIteration(worker: IFunction): IChainable {
    const failed = Pass.jsonPath(this, 'ShardFailed', {
      comment: 'FailedShard: the run will be inconclusive, never a low ceiling',
      parameters: {
        'shard.$': '$.shard.index',
        failed: { 'error.$': '$.caught.Error', 'cause.$': '$.caught.Cause' },
      },
    });
    return LambdaInvoke.jsonPath(this, 'Worker', {
      lambdaFunction: worker,
      payloadResponseOnly: true,
      // A retried shard would open its share late and distort the global timeline.
      retryOnServiceExceptions: false,
      comment: 'Run one shard of the ramp (input: ShardTask, output: WorkerOutput)',
    }).addCatch(failed, { errors: ['States.ALL'], resultPath: '$.caught' });
  }
}
