// Tests of how the window measurement reads its trace: fixed and sliding windows (the simulator's own window count),
// with fine probes or a Retry-After, give their count and window; a token bucket is no window.
import { describe, expect, it } from 'vitest';
import {
  judgeWindow,
  slidingWindowFor,
  traceComplete,
  type WindowTrace,
} from '../../functions/diagnose/window-limit.js';
import { UpgradeWindow, type WindowLimit } from '../../functions/simulator/upgrade-window.js';

type Admit = (at: number) => { admitted: boolean; retryAfterSeconds?: number };

/**
 * The trace the measurement records against `admit`, sending as it does: one upgrade every 1 / `rate` s while let
 * through; once refused, probes 1/16 of the time refused so far apart (at least 1 / `rate`), never inside a
 * Retry-After; until the trace is complete (or ten minutes passed).
 */
function traceOf(admit: Admit, rate: number, startAt = 0): WindowTrace {
  const trace: WindowTrace = { accepted: [], refused: [], spans: [], breaks: [] };
  let at = startAt;
  let refusedFrom: number | null = null;
  while (!traceComplete(trace) && at < startAt + 600_000) {
    const decision = admit(at);
    if (decision.admitted) {
      const span = trace.spans[trace.spans.length - 1];
      if (span && !span.ended) span.ended = true;
      trace.accepted.push({ at, group: trace.spans.length });
      refusedFrom = null;
      at += 1000 / rate;
    } else {
      trace.refused.push({
        at,
        acceptedBefore: trace.accepted.length,
        ...(decision.retryAfterSeconds !== undefined ? { retryAfterSeconds: decision.retryAfterSeconds } : {}),
      });
      if (refusedFrom === null) {
        refusedFrom = at;
        trace.spans.push({ acceptedBefore: trace.accepted.length, ended: false });
      }
      const gap = Math.max(1000 / rate, (at - refusedFrom) / 16);
      at += Math.max(gap, (decision.retryAfterSeconds ?? 0) * 1000);
    }
  }
  return trace;
}

const windowAdmit = (limit: WindowLimit, used: number[] = []): Admit => {
  const window = new UpgradeWindow(limit, 0);
  for (const at of used) window.admit(at);
  return (at) => window.admit(at);
};

/** A token bucket of `perSecond` and `burst`, full at 0, refusing with a Retry-After of `retryAfter` seconds. */
const bucketAdmit = (perSecond: number, burst: number, retryAfter: number): Admit => {
  let tokens = burst;
  let last = 0;
  return (at) => {
    tokens = Math.min(burst, tokens + ((at - last) / 1000) * perSecond);
    last = at;
    if (tokens < 1) return { admitted: false, retryAfterSeconds: retryAfter };
    tokens -= 1;
    return { admitted: true };
  };
};

describe('judgeWindow', () => {
  it.each([
    ['fixed', 0],
    ['sliding', 0],
  ] as const)('reads a %s window of 20 per 2 s probed finely to within 2 %', (kind, retryAfterSeconds) => {
    // Start a third of the way into a window that a third of the count already used.
    const verdict = judgeWindow(
      traceOf(windowAdmit({ kind, count: 20, seconds: 2, retryAfterSeconds }, [0, 10, 20, 30, 40, 50]), 100, 700),
    );
    if (verdict.kind !== 'window') throw new Error(verdict.reason);
    expect(verdict.count).toBe(20);
    expect(Math.abs(verdict.seconds / 2 - 1)).toBeLessThanOrEqual(0.02);
  });

  it.each(['fixed', 'sliding'] as const)(
    'reads a %s window of 100 per 60 s honouring its Retry-After to within the second it is rounded to',
    (kind) => {
      const verdict = judgeWindow(traceOf(windowAdmit({ kind, count: 100, seconds: 60 }, [0, 500, 1000]), 50, 20_000));
      if (verdict.kind !== 'window') throw new Error(verdict.reason);
      expect(verdict.count).toBe(100);
      expect(Math.abs(verdict.seconds - 60)).toBeLessThanOrEqual(1);
    },
  );

  it.each(['fixed', 'sliding'] as const)(
    'reads a %s window of 15 per 1.5 s no shorter than it is when a Retry-After of 1 s hides when it reopened',
    (kind) => {
      const verdict = judgeWindow(traceOf(windowAdmit({ kind, count: 15, seconds: 1.5 }, [0, 500, 1000]), 50, 700));
      if (verdict.kind !== 'window') throw new Error(verdict.reason);
      expect(verdict.count).toBe(15);
      expect(verdict.seconds).toBeGreaterThanOrEqual(1.5);
      expect(verdict.seconds).toBeLessThanOrEqual(2.5);
    },
  );

  it("reads a fixed window's count from its smallest group when others straddled a boundary by an upgrade", () => {
    // Every other reopening lands 5 ms before a boundary: one upgrade in the old window, ten in the new.
    const window = new UpgradeWindow({ kind: 'fixed', count: 10, seconds: 1 }, 0);
    const trace: WindowTrace = { accepted: [], refused: [], spans: [], breaks: [] };
    for (const start of [0, 1995, 4000, 5995, 8000, 9995, 12_000]) {
      for (let at = start; ; at += 10) {
        if (window.admit(at).admitted) {
          const span = trace.spans[trace.spans.length - 1];
          if (span) span.ended = true;
          trace.accepted.push({ at, group: trace.spans.length });
          continue;
        }
        trace.refused.push({ at, acceptedBefore: trace.accepted.length });
        trace.spans.push({ acceptedBefore: trace.accepted.length, ended: false });
        break;
      }
    }
    expect(judgeWindow(trace)).toMatchObject({ kind: 'window', count: 10 });
  });

  it('is no window for a cap: its groups get through only when a new plan began, after the last one closed', () => {
    // Each plan of 15 upgrades, one every 10 ms and 3 s apart: the cap of 10 lets 10 in, refuses the other 5.
    const trace: WindowTrace = { accepted: [], refused: [], spans: [], breaks: [] };
    for (let plan = 0; plan < 9; plan += 1) {
      if (plan > 0) trace.breaks.push(trace.accepted.length);
      const span = trace.spans[trace.spans.length - 1];
      if (span) span.ended = true;
      for (let upgrade = 0; upgrade < 15; upgrade += 1) {
        const at = plan * 3000 + upgrade * 10;
        if (upgrade < 10) trace.accepted.push({ at, group: trace.spans.length });
        else trace.refused.push({ at, acceptedBefore: trace.accepted.length });
      }
      trace.spans.push({ acceptedBefore: trace.accepted.length, ended: false });
    }
    expect(judgeWindow(trace)).toMatchObject({ kind: 'not-window' });
  });

  it('is no window for a token bucket: after its burst it lets one or two through per refill', () => {
    const verdict = judgeWindow(traceOf(bucketAdmit(20, 30, 0), 60));
    expect(verdict).toMatchObject({ kind: 'not-window' });
  });
});

describe('slidingWindowFor', () => {
  it('fits only windows that explain every upgrade let through and refused', () => {
    const trace = traceOf(windowAdmit({ kind: 'sliding', count: 5, seconds: 1, retryAfterSeconds: 0 }), 100);
    expect(slidingWindowFor(trace, 4)).toBeUndefined();
    const fit = slidingWindowFor(trace, 5);
    expect(fit?.above).toBeLessThan(1);
    expect(fit?.atMost).toBeGreaterThanOrEqual(1);
  });
});
