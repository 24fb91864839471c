/**
 * The state machine of one target's run in one region:
 * stagger wait → plan → every shard's worker started together → record.
 * - A scheduled run first waits its region's start offset (the schedule's
 *   input carries it), so the regions of a target never probe at once.
 * - The plan step takes the target's run lock; a run that finds it held is
 *   handed straight to the record step, which records it as skipped.
 * - A worker that fails or times out is caught inside its own iteration and
 *   becomes a `FailedShard`, so the run still reaches the record step, which
 *   makes it inconclusive (never a low ceiling).
 * - When the map or the record step fails for good, the catch releases the
 *   run's lock (through the record Lambda) and fails the execution, which
 *   the target's execution-failed alarm pages on.
 * Up to INLINE_MAP_MAX_CONCURRENCY shards run in an inline Map; more need a
 * Distributed Map, whose child executions can all run at once. The map's
 * concurrency is fixed here from the deployed plan, and the plan state hands
 * it to the plan step, which refuses a run with another shard count.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Policy } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  DistributedMap,
  Fail,
  JsonPath,
  LogLevel,
  Map as MapState,
  Pass,
  StateMachine,
  StateMachineType,
  TaskInput,
  Wait,
  WaitTime,
  type IChainable,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { INLINE_MAP_MAX_CONCURRENCY } from '../functions/config/aws-limits.js';
import type { TargetConfig } from '../functions/config/config-types.js';
import { shardCount, workerTimeoutSeconds } from '../functions/config/worker-budget.js';
import type { ResourceNames } from '../functions/config/resource-names.js';
import type { ReleaseLockRequest } from '../functions/steps/release-step.js';
import type { PlanStepInput } from '../functions/steps/step-payloads.js';
import { acknowledgeWildcards, defaultPolicyOf, flatResource } from './nag-acknowledgements.js';
import { FUNCTION_LOG_RETENTION } from './probe-function.js';
import { RECORD_RETRY, stateMachineTimeoutSeconds } from '../functions/config/run-budget.js';

/** Where the map reads its items (PlanStepOutput.shardTasks) and puts its results (RecordStepInput.shards). */
export const MAP_PATHS = { items: '$.shardTasks', results: '$.shards' } as const;

/** Where a failed state's error goes in the state, for the lock release and the execution's failure. */
const ERROR_PATH = '$.error';

/** What a target's state machine runs. */
export interface ProbeStateMachineProps {
  target: TargetConfig;
  plan: IFunction;
  worker: IFunction;
  record: IFunction;
  /** The deployment's names. */
  names: ResourceNames;
  /** This region's start offset after each cron time, seconds: the longest the stagger wait takes. */
  startOffsetSeconds: number;
}

/** One target's run: stagger wait, plan, all shards at once, record. */
export class ProbeStateMachine extends Construct {
  /** The state machine (named `names.stateMachine(target.id)`). */
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
        `Validate the target, lay out the run of ${this.shards} shard(s), all started at once, and take the run ` +
        'lock (input: PlanStepInput, output: PlanStepOutput)',
    });
    const record = LambdaInvoke.jsonPath(this, 'Record', {
      lambdaFunction: props.record,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      comment:
        'Merge the shards, decide the verdict, write the run once, publish metrics, tell on-call, release the ' +
        'run lock (output: RecordStepOutput)',
    }).addRetry({
      errors: ['States.ALL'],
      maxAttempts: RECORD_RETRY.maxAttempts,
      interval: Duration.seconds(RECORD_RETRY.intervalSeconds),
      backoffRate: RECORD_RETRY.backoffRate,
    });
    const failed = this.releaseLockAndFail(props.record);
    record.addCatch(failed, { errors: ['States.ALL'], resultPath: ERROR_PATH });
    const shardMap = this.shardMap(props.worker);
    shardMap.addCatch(failed, { errors: ['States.ALL'], resultPath: ERROR_PATH });
    const skippedOrNot = Choice.jsonPath(this, 'LockHeld', {
      comment: 'Another run of the target holds the run lock: record this one as skipped, probe nothing',
    })
      .when(Condition.isPresent('$.skipped'), record)
      .otherwise(shardMap.next(record));
    plan.next(skippedOrNot);
    const logGroup = new LogGroup(this, 'Logs', {
      logGroupName: props.names.stateMachineLogGroup(props.target.id),
      retention: FUNCTION_LOG_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const runTimeout = stateMachineTimeoutSeconds(workerTimeoutSeconds(props.target.plan));
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: props.names.stateMachine(props.target.id),
      stateMachineType: StateMachineType.STANDARD,
      comment:
        `ws-ceiling run of target ${props.target.id}: stagger wait, plan, ${this.shards} shard(s) at once, ` + 'record',
      definitionBody: DefinitionBody.fromChainable(this.staggerWait(plan)),
      timeout: Duration.seconds(props.startOffsetSeconds + runTimeout),
      tracingEnabled: true,
      // Payloads hold the target's URL; they stay out of the logs.
      logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: false },
    });
    this.acknowledgeWildcards(props);
  }

  /**
   * The first state: a scheduled run waits its region's offset
   * (`$.startOffsetSeconds` of the schedule's input); a run without one
   * (`ws-ceiling invoke`) goes straight to the plan.
   */
  private staggerWait(plan: IChainable): Choice {
    const wait = Wait.jsonPath(this, 'StaggerWait', {
      time: WaitTime.secondsPath('$.startOffsetSeconds'),
      comment: "Wait this region's start offset, so the target's regions never probe at once",
    });
    return Choice.jsonPath(this, 'Staggered', { comment: 'A scheduled run starts at its region offset' })
      .when(
        Condition.and(
          Condition.isPresent('$.startOffsetSeconds'),
          Condition.numberGreaterThan('$.startOffsetSeconds', 0),
        ),
        wait.next(plan),
      )
      .otherwise(plan);
  }

  /**
   * The failure path: release the run's lock through the record Lambda (a
   * ReleaseLockRequest), then fail the execution with the original error. A
   * release that fails too still fails the execution; the lock then expires.
   */
  private releaseLockAndFail(recordFunction: IFunction): LambdaInvoke {
    const fail = Fail.jsonPath(this, 'RunFailed', {
      comment: 'The run failed after the plan: its lock was released, the execution-failed alarm pages',
      errorPath: `${ERROR_PATH}.Error`,
      causePath: `${ERROR_PATH}.Cause`,
    });
    const request: Record<keyof ReleaseLockRequest, unknown> = {
      releaseLock: { 'targetId.$': '$.target.id', 'runId.$': '$.runId' },
    };
    const release = LambdaInvoke.jsonPath(this, 'ReleaseLock', {
      lambdaFunction: recordFunction,
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      payload: TaskInput.fromObject(request),
      resultPath: JsonPath.DISCARD,
      comment: "Release the failed run's lock, so the target's next run is not skipped",
    });
    release.addCatch(fail, { errors: ['States.ALL'], resultPath: JsonPath.DISCARD });
    release.next(fail);
    return release;
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
