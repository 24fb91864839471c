import { describe, expect, it } from 'vitest';
import type { Diagnosis } from '../../functions/diagnose/findings.js';
import {
  describeDiagnosis,
  makeFinding,
  ordinal,
  sentenceFor,
  type FindingDraft,
} from '../../functions/diagnose/report.js';
import { cappedRun } from '../support/run-results.js';

describe('ordinal', () => {
  it('writes 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 101st, 111th and 151st', () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 101, 111, 151].map(ordinal)).toEqual([
      '1st',
      '2nd',
      '3rd',
      '4th',
      '11th',
      '12th',
      '13th',
      '21st',
      '101st',
      '111th',
      '151st',
    ]);
  });
});

describe('sentenceFor', () => {
  it('says a cap with its status, the upgrade it began at and the rates tried', () => {
    const draft: FindingDraft = {
      kind: 'concurrency-cap',
      values: { count: 150, rates: [50, 25, 12.5] },
      experiment: 'rate-or-count',
      evidence: { statuses: { '503': 80 } },
      probeSeconds: 20,
    };
    expect(sentenceFor(draft)).toBe(
      'Concurrency cap at 150 (HTTP 503 from the 151st upgrade, at every connect rate tried: 50, 25 and 12.5 ' +
        'connections/s).',
    );
  });

  it('says a rate limit with its rate, burst, Retry-After and what passed, and advises a --rate', () => {
    const draft: FindingDraft = {
      kind: 'handshake-rate-limit',
      values: { perSecond: 19.6, burst: 30, cleanAtRate: 30, rates: [60, 30] },
      experiment: 'rate-or-count',
      evidence: { statuses: { '429': 100 }, retryAfter: ['1'] },
      probeSeconds: 6,
    };
    expect(sentenceFor(draft)).toBe(
      'Handshake rate limit of 19.6 handshakes/s with a burst of 30 (HTTP 429 with Retry-After 1; refusals ' +
        'vanished at 30/s); ramp at 17.6/s or slower (--rate, 90 % of the measured rate) to pass it.',
    );
  });

  it('says a cap with a queue in front of it, with how long the queue held each refused upgrade', () => {
    const draft: FindingDraft = {
      kind: 'concurrency-cap',
      values: { count: 10, rates: [100, 50, 25], queueSeconds: 2 },
      experiment: 'rate-or-count',
      evidence: { statuses: { '503': 30 } },
      probeSeconds: 9,
    };
    expect(sentenceFor(draft)).toBe(
      'Concurrency cap at 10 with a queue in front of it (from the 11th upgrade on, the gateway held each upgrade ' +
        'about 2.0 s, then answered HTTP 503, at every connect rate tried: 100, 50 and 25 connections/s).',
    );
  });

  it('says a window limit with its count, window and sustainable rate, and advises a --rate under it', () => {
    const draft: FindingDraft = {
      kind: 'handshake-rate-limit',
      values: { perSecond: 1.7, burst: 100, cleanAtRate: null, rates: [50, 25], window: { count: 100, seconds: 60 } },
      experiment: 'rate-or-count',
      evidence: { statuses: { '429': 40 }, retryAfter: ['38', '57'] },
      probeSeconds: 130,
    };
    expect(sentenceFor(draft)).toBe(
      'Handshake rate limit of 100 upgrades per 60 s, counted in a window (1.7 handshakes/s sustained; HTTP 429 ' +
        'with Retry-After 38, 57; the refusals ended only when the window moved on, then 100 got through again); ' +
        'ramp at 1.5/s or slower (--rate, 90 % of the measured rate) to pass it.',
    );
  });

  it('says what stands behind a rate limit, at the rate it ramped under it', () => {
    const cap: FindingDraft = {
      kind: 'concurrency-cap',
      values: { count: 250, rates: [18] },
      experiment: 'under-rate-limit',
      evidence: { statuses: { '503': 50 } },
      probeSeconds: 20,
    };
    expect(sentenceFor(cap)).toBe(
      'Behind the rate limit, ramped at 18/s: concurrency cap at 250 (HTTP 503 from the 251st upgrade, at 18 ' +
        'connections/s).',
    );
    const none: FindingDraft = {
      kind: 'no-limit',
      values: { max: 300, rate: 18 },
      experiment: 'under-rate-limit',
      evidence: {},
      probeSeconds: 17,
    };
    expect(sentenceFor(none)).toBe(
      'Behind the rate limit, ramped at 18/s: no other limit up to 300 connections (every upgrade opened); raise ' +
        '--max or --stages to look further.',
    );
  });

  it('says a rate limit still refused at the slowest rate tried', () => {
    const draft: FindingDraft = {
      kind: 'handshake-rate-limit',
      values: { perSecond: 4, burst: null, cleanAtRate: null, rates: [40, 20, 10] },
      experiment: 'rate-or-count',
      evidence: { statuses: { '429': 9 } },
      probeSeconds: 6,
    };
    expect(sentenceFor(draft)).toContain('still refused at 10/s, the slowest rate tried');
  });

  it('says an exact ceiling settled from the ramp, or by refinement steps with their probe-seconds', () => {
    const fromRamp: FindingDraft = {
      kind: 'exact-ceiling',
      values: { value: 937, failsAt: 938, resolution: 1, steps: 0 },
      experiment: 'refinement',
      evidence: {},
      probeSeconds: 0,
    };
    expect(sentenceFor(fromRamp)).toBe(
      'Exact ceiling of 937 connections (937 held for the whole hold and 938 did not, to 1 connection; settled ' +
        "from the ramp's own failing stage, no extra probe-seconds).",
    );
    const refined: FindingDraft = {
      kind: 'exact-ceiling',
      values: { value: 937, failsAt: 938, resolution: 1, steps: 8 },
      experiment: 'refinement',
      evidence: {},
      probeSeconds: 95.2,
    };
    expect(sentenceFor(refined)).toContain('8 refinement steps, 95.2 probe-seconds');
  });

  it('says a maximum lifetime that no heartbeat prevents', () => {
    const groups = [
      { heartbeat: 'off', intervalSeconds: null, kept: 0, of: 5, closedAfterSeconds: 60 },
      { heartbeat: 'ping', intervalSeconds: 30, kept: 0, of: 5, closedAfterSeconds: 60 },
    ] as const;
    const draft: FindingDraft = {
      kind: 'max-lifetime',
      values: { seconds: 60, groups: [...groups] },
      experiment: 'idle-timeout',
      evidence: {},
      probeSeconds: 91,
    };
    expect(sentenceFor(draft)).toBe(
      'Maximum connection lifetime of 60.0 s (connections closed 60.0 s after they opened whatever the ' +
        'heartbeat: no heartbeat, a protocol ping every 30.0 s); no heartbeat prevents it, so reconnect before ' +
        'then.',
    );
  });
});

describe('describeDiagnosis', () => {
  it("shows each experiment's steps and the time spent, and ends with one sentence per finding", () => {
    const cap = makeFinding({
      kind: 'concurrency-cap',
      values: { count: 30, rates: [200, 100] },
      experiment: 'rate-or-count',
      evidence: { statuses: { '503': 20 }, steps: ['40 connections at 100/s: 30 opened, 10 refused'] },
      probeSeconds: 1.5,
    });
    const exact = makeFinding({
      kind: 'exact-ceiling',
      values: { value: 30, failsAt: 31, resolution: 1, steps: 0 },
      experiment: 'refinement',
      evidence: {},
      probeSeconds: 0,
    });
    const diagnosis: Diagnosis = {
      verdict: 'explained',
      reason: 'Explained by experiment: concurrency-cap, exact-ceiling.',
      gate: { verdict: 'passed', ceiling: 30, reason: null },
      runId: 'run-1',
      targetId: 'target-1',
      url: 'ws://127.0.0.1:1/',
      findings: [cap, exact],
      seconds: { ramp: 2.1, experiments: 1.5, waits: 1 },
      selfCheck: { ok: true, problems: [], unchecked: [] },
      run: cappedRun,
    };
    const text = describeDiagnosis(diagnosis);
    expect(text.split('\n')).toEqual([
      'Diagnosis of target-1 (run run-1): EXPLAINED',
      '',
      '  rate-or-count:',
      '    40 connections at 100/s: 30 opened, 10 refused',
      '',
      '  Time: ramp 2.1 s, follow-up experiments 1.5 probe-seconds and 1 s of pauses (Retry-After, refills).',
      '',
      cap.sentence,
      exact.sentence,
    ]);
  });

  it('says right under the verdict when a gate failed', () => {
    const exact = makeFinding({
      kind: 'exact-ceiling',
      values: { value: 5, failsAt: 6, resolution: 1, steps: 0 },
      experiment: 'refinement',
      evidence: {},
      probeSeconds: 0,
    });
    const reason =
      "Ceiling 5 is under the required minimum 15: not even the ramp's first stage held, and the diagnosis settled 5.";
    const text = describeDiagnosis({
      verdict: 'explained',
      reason: 'Explained by experiment: exact-ceiling.',
      gate: { verdict: 'below-floor', ceiling: 5, reason },
      runId: 'run-1',
      targetId: 'target-1',
      url: 'ws://127.0.0.1:1/',
      findings: [exact],
      seconds: { ramp: 1, experiments: 0, waits: 0 },
      selfCheck: { ok: true, problems: [], unchecked: [] },
      run: cappedRun,
    });
    expect(text.split('\n').slice(0, 2)).toEqual([
      'Diagnosis of target-1 (run run-1): EXPLAINED',
      `  Gate failed (below-floor): ${reason}`,
    ]);
  });
});
