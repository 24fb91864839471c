import { describe, expect, it } from 'vitest';
import {
  FAN_OUT_ALLOWANCE_SECONDS,
  PLAN_TIMEOUT_SECONDS,
  RECORD_RETRY,
  RECORD_TIMEOUT_SECONDS,
  recordBudgetSeconds,
  stateMachineTimeoutSeconds,
} from '../../functions/config/run-budget.js';

describe('recordBudgetSeconds', () => {
  it('counts every record attempt timing out plus the growing waits between them', () => {
    // 4 attempts of 120 s, waits of 5, 10 and 20 s.
    expect(RECORD_RETRY).toEqual({ maxAttempts: 3, intervalSeconds: 5, backoffRate: 2 });
    expect(recordBudgetSeconds()).toBe(4 * RECORD_TIMEOUT_SECONDS + 35);
  });
});

describe('stateMachineTimeoutSeconds', () => {
  it('adds the plan, the fan-out allowance, the workers and the record budget', () => {
    expect(stateMachineTimeoutSeconds(345)).toBe(
      PLAN_TIMEOUT_SECONDS + FAN_OUT_ALLOWANCE_SECONDS + 345 + recordBudgetSeconds(),
    );
    expect(stateMachineTimeoutSeconds(900)).toBe(30 + 300 + 900 + 515);
  });

  it('rounds a fractional worker timeout up', () => {
    expect(stateMachineTimeoutSeconds(100.2)).toBe(stateMachineTimeoutSeconds(101));
  });

  it('refuses a worker timeout that is not a positive number', () => {
    expect(() => stateMachineTimeoutSeconds(0)).toThrow(
      /workerTimeoutSeconds must be a positive number of seconds, got 0/,
    );
    expect(() => stateMachineTimeoutSeconds(Number.POSITIVE_INFINITY)).toThrow(/got Infinity/);
  });
});
