import { describe, expect, it } from 'vitest';
import type { ShardEvent } from '../../functions/engine/types.js';
import {
  honourRetryAfter,
  retryAfterReason,
  retryAfterSeconds,
  type RetryAfterBeyondBudget,
} from '../../functions/diagnose/retry-after.js';
import { RampControl } from '../../functions/engine/ramp-control.js';
import { refused, T0 } from '../support/records.js';

const settled = (retryAfter?: string): ShardEvent => ({
  type: 'settled',
  record: refused(0, 0, 429, retryAfter),
  failureClass: 'handshake-rejected',
});

describe('retryAfterSeconds', () => {
  it('reads delta-seconds and HTTP dates', () => {
    const at = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(retryAfterSeconds('7', at)).toBe(7);
    expect(retryAfterSeconds('Thu, 01 Jan 2026 00:00:30 GMT', at)).toBe(30);
    expect(retryAfterSeconds('soon', at)).toBeNull();
  });
});

describe('honourRetryAfter', () => {
  it("holds new upgrades off until a refusal's Retry-After has passed, and ignores refusals without one", () => {
    const control = new RampControl({ kind: 'count', value: 0 }, [10], false);
    const listen = honourRetryAfter(
      control,
      () => T0,
      () => 60,
      () => undefined,
    );
    listen(settled());
    listen(settled('0'));
    expect(control.resumeAt).toBe(0);
    listen(settled('2'));
    expect(control.resumeAt).toBe(T0 + 2000);
    expect(control.signal.aborted).toBe(false);
  });

  it('stops the plan instead when the Retry-After asks to wait past the budget, and says so once', () => {
    const control = new RampControl({ kind: 'count', value: 0 }, [10], false);
    const beyond: RetryAfterBeyondBudget[] = [];
    const listen = honourRetryAfter(
      control,
      () => T0,
      () => 12.34,
      (seen) => beyond.push(seen),
    );
    listen(settled('600'));
    listen(settled('600'));
    expect(control.signal.aborted).toBe(true);
    expect(beyond).toEqual([{ seconds: 600, secondsLeft: 12.3 }]);
    expect(retryAfterReason(beyond[0] as RetryAfterBeyondBudget, 300)).toBe(
      'the target asked to wait 600 s (Retry-After) before the next upgrade, longer than the 12.3 s left of the ' +
        'experiment budget (--experiment-budget 300); raise the budget to wait it out',
    );
  });
});
