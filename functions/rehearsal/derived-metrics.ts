/**
 * The metrics AWS itself would publish for a rehearsed execution, derived
 * from how it went, so the template's alarms on them can be evaluated too:
 * - `AWS/States` per state machine (`StateMachineArn`): `ExecutionsStarted`,
 *   one of `ExecutionsSucceeded`, `ExecutionsFailed`, `ExecutionsTimedOut`,
 *   `ExecutionsAborted`, and `ExecutionTime` in milliseconds;
 * - `AWS/Lambda` per function (`FunctionName`): `Invocations`, `Errors` (a
 *   call that failed, timed out or ran out of memory), `Duration`, and
 *   `Throttles` (none: every call ran).
 * Like CloudWatch, a count that did not happen is not published. Pure.
 */
import type { AlarmDatapoint } from './alarm-evaluator.js';

/** How an execution ended, as Step Functions names it. */
export type ExecutionStatus = 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** One function call of the execution. */
export interface CallRecord {
  functionName: string;
  /** Epoch milliseconds. */
  startedAt: number;
  endedAt: number;
  failed: boolean;
}

const EXECUTION_METRIC: Record<ExecutionStatus, string> = {
  SUCCEEDED: 'ExecutionsSucceeded',
  FAILED: 'ExecutionsFailed',
  TIMED_OUT: 'ExecutionsTimedOut',
  ABORTED: 'ExecutionsAborted',
};

/** The AWS/States and AWS/Lambda datapoints of one execution. */
export function derivedDatapoints(execution: {
  stateMachineArn: string;
  status: ExecutionStatus;
  startedAt: number;
  endedAt: number;
  calls: readonly CallRecord[];
}): AlarmDatapoint[] {
  const states = (name: string, value: number, unit: string): AlarmDatapoint => ({
    namespace: 'AWS/States',
    name,
    dimensions: { StateMachineArn: execution.stateMachineArn },
    timestamp: execution.endedAt,
    unit,
    values: [{ value, count: 1 }],
  });
  const points = [
    states('ExecutionsStarted', 1, 'Count'),
    states(EXECUTION_METRIC[execution.status], 1, 'Count'),
    states('ExecutionTime', execution.endedAt - execution.startedAt, 'Milliseconds'),
  ];
  for (const call of execution.calls) {
    const lambda = (name: string, value: number, unit: string): AlarmDatapoint => ({
      namespace: 'AWS/Lambda',
      name,
      dimensions: { FunctionName: call.functionName },
      timestamp: call.endedAt,
      unit,
      values: [{ value, count: 1 }],
    });
    points.push(lambda('Invocations', 1, 'Count'), lambda('Duration', call.endedAt - call.startedAt, 'Milliseconds'));
    if (call.failed) points.push(lambda('Errors', 1, 'Count'));
  }
  return points;
}
