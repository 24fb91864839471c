/**
 * The Step Functions side of a deployed target: find its state machine by
 * name, start a run, read how an execution ended, list and stop the running
 * ones. Used by `ws-ceiling invoke` and `ws-ceiling stop`.
 */
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  StartExecutionCommand,
  StopExecutionCommand,
  type ExecutionStatus,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import type { RunRequest } from '../steps/step-payloads.js';

/** An execution in progress. */
export interface RunningExecution {
  arn: string;
  /** Step Functions' own clock, not the caller's. */
  startedAt: Date;
}

/** Where an execution stands; `output` is the execution's output JSON once it SUCCEEDED. */
export interface ExecutionState {
  status: ExecutionStatus;
  output?: string;
  error?: string;
  cause?: string;
}

/** How a {@link ProbeExecutions} reaches Step Functions. */
export interface ProbeExecutionsOptions {
  client: SFNClient;
}

/** Step Functions calls on the state machines of ws-ceiling targets. */
export class ProbeExecutions {
  readonly #client: SFNClient;

  constructor(options: ProbeExecutionsOptions) {
    this.#client = options.client;
  }

  /**
   * The ARN of the state machine named `name`, or undefined when the region has none (ListStateMachines, every page).
   */
  async stateMachineArn(name: string): Promise<string | undefined> {
    let nextToken: string | undefined;
    do {
      const page = await this.#client.send(new ListStateMachinesCommand({ nextToken }));
      const found = page.stateMachines?.find((machine) => machine.name === name);
      if (found) return found.stateMachineArn;
      nextToken = page.nextToken;
    } while (nextToken);
    return undefined;
  }

  /** Starts an execution with `request` as its input and returns the execution's ARN. */
  async start(stateMachineArn: string, request: RunRequest): Promise<string> {
    const { executionArn } = await this.#client.send(
      new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(request) }),
    );
    if (!executionArn) throw new Error(`StartExecution on ${stateMachineArn} returned no execution ARN`);
    return executionArn;
  }

  /** The status of an execution, with its output or error. */
  async describe(executionArn: string): Promise<ExecutionState> {
    const described = await this.#client.send(new DescribeExecutionCommand({ executionArn }));
    return {
      status: described.status ?? 'RUNNING',
      ...(described.output !== undefined ? { output: described.output } : {}),
      ...(described.error !== undefined ? { error: described.error } : {}),
      ...(described.cause !== undefined ? { cause: described.cause } : {}),
    };
  }

  /**
   * The stagger wait of an execution: `startOffsetSeconds` of its input (a
   * scheduled run's region offset), 0 when it has none or cannot say.
   */
  async startOffsetSeconds(executionArn: string): Promise<number> {
    const described = (await this.#client.send(new DescribeExecutionCommand({ executionArn }))) as
      { input?: string } | undefined;
    try {
      const input = JSON.parse(described?.input ?? '{}') as { startOffsetSeconds?: unknown };
      return typeof input.startOffsetSeconds === 'number' && input.startOffsetSeconds > 0
        ? input.startOffsetSeconds
        : 0;
    } catch {
      return 0;
    }
  }

  /** The executions of a state machine that are RUNNING now (every page), with when Step Functions started them. */
  async runningExecutions(stateMachineArn: string): Promise<RunningExecution[]> {
    const running: RunningExecution[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.#client.send(
        new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', nextToken }),
      );
      for (const execution of page.executions ?? []) {
        if (execution.executionArn && execution.startDate)
          running.push({ arn: execution.executionArn, startedAt: execution.startDate });
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return running;
  }

  /** Stops an execution, recording why. */
  async stop(executionArn: string, cause: string): Promise<void> {
    await this.#client.send(new StopExecutionCommand({ executionArn, error: 'WsCeiling.Stopped', cause }));
  }
}
