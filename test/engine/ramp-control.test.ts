import { describe, expect, it } from 'vitest';
import { allowedFailures, RampControl } from '../../functions/engine/ramp-control.js';

describe('allowedFailures', () => {
  it('takes a count as is and a percentage of the stage target rounded down', () => {
    expect(allowedFailures({ kind: 'count', value: 3 }, 1000)).toBe(3);
    expect(allowedFailures({ kind: 'percent', value: 0.5 }, 1000)).toBe(5);
    expect(allowedFailures({ kind: 'percent', value: 0.5 }, 150)).toBe(0);
  });
});

describe('RampControl', () => {
  it('stops after the first stage whose failures pass the tolerance', () => {
    const control = new RampControl({ kind: 'count', value: 1 }, [50, 100], true);
    control.recordFailure(0);
    expect(control.shouldStopAfter(0)).toBe(false);
    control.recordFailure(0);
    expect(control.shouldStopAfter(0)).toBe(true);
    expect(control.shouldStopAfter(1)).toBe(false);
  });

  it('keeps ramping past failures with --continue-after-failure, but not past an abort', () => {
    const control = new RampControl({ kind: 'count', value: 0 }, [50, 100], false);
    control.recordFailure(0);
    expect(control.shouldStopAfter(0)).toBe(false);
    control.abort({ failureClass: 'interrupted', message: 'stopped by SIGINT' });
    expect(control.shouldStopAfter(0)).toBe(true);
    expect(control.signal.aborted).toBe(true);
  });

  it('keeps the first abort reason', () => {
    const control = new RampControl({ kind: 'count', value: 0 }, [50], true);
    control.abort({ failureClass: 'unreachable', message: 'unreachable: ECONNREFUSED' });
    control.abort({ failureClass: 'interrupted', message: 'stopped by SIGINT' });
    expect(control.abortReason).toEqual({ failureClass: 'unreachable', message: 'unreachable: ECONNREFUSED' });
  });

  it('holds new upgrades off until the latest time asked for, never shortening a hold-off', () => {
    const control = new RampControl({ kind: 'count', value: 0 }, [50], true);
    expect(control.resumeAt).toBe(0);
    control.holdOff(2000);
    control.holdOff(1500);
    expect(control.resumeAt).toBe(2000);
    control.holdOff(2500);
    expect(control.resumeAt).toBe(2500);
  });
});
