import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../../functions/engine/types.js';
import { describeCause } from '../../../functions/engine/words/cause-headline.js';
import { loadRecordedRun } from '../../fixtures/simulator-runs.js';

const heldRun = loadRecordedRun('held');

describe('describeCause', () => {
  it('falls back to the verdict reason when there is no limiting factor and no ceiling, as for a stopped run', () => {
    const stopped: RunResult = {
      ...heldRun,
      verdict: 'inconclusive',
      verdictReason: 'The run was stopped before it finished.',
      ceiling: { value: null, reached: false },
    };
    expect(describeCause(stopped)).toBe('The run was stopped before it finished.');
  });

  it('names the connect error codes of a cap that resets connections', () => {
    const capped = loadRecordedRun('concurrency-cap');
    const factor = capped.limitingFactor;
    if (!factor) throw new Error('the recorded cap run has no limiting factor');
    const resets: RunResult = {
      ...capped,
      limitingFactor: {
        ...factor,
        evidence: {
          ...factor.evidence,
          failures: {
            total: 5,
            byClass: { 'connect-error': 5 },
            byStatus: {},
            byCloseCode: {},
            byErrorCode: { ECONNRESET: 5 },
          },
        },
      },
    };
    expect(describeCause(resets)).toBe(
      'The server answered new connections with ECONNRESET once 60 connections were open: a concurrency cap.',
    );
  });

  it('says the probe stopped itself when its self-check stopped the run, not that its event loop was starved', () => {
    const message =
      'While the run went on, the probe ran short of file descriptors: 190 open against a descriptor limit ' +
      '(ulimit -n) of 200.';
    const stopped: RunResult = {
      ...heldRun,
      limitingFactor: { kind: 'probe-limited', summary: message, evidence: { failures: heldRun.failures, message } },
    };
    expect(describeCause(stopped)).toBe(
      'The probe stopped itself because its own machine was running short (descriptors, memory or heap): this run ' +
        "says nothing about the target's limit.",
    );
  });

  it("blames the probe's event loop when the probe was starved without an error code", () => {
    const starved: RunResult = {
      ...heldRun,
      limitingFactor: {
        kind: 'probe-limited',
        summary: 'starved',
        evidence: { failures: heldRun.failures, eventLoopDelayMaxMs: 812.4 },
      },
    };
    expect(describeCause(starved)).toBe(
      "The probe's own event loop was starved (delay up to 812.4 ms), so its timings cannot be trusted: this run " +
        "says nothing about the target's limit.",
    );
  });
});
