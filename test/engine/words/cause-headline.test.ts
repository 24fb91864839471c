import { describe, expect, it } from 'vitest';
import type { Evidence, FailureCounts, FirstFailure, RunResult } from '../../../functions/engine/types.js';
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

  it.each<[string, Partial<FirstFailure>, Partial<FailureCounts>, string]>([
    [
      'a web page',
      { failureClass: 'config-error', status: 200 },
      { byStatus: { '200': 1 } },
      'The target answers HTTP 200 without upgrading: not a WebSocket endpoint, so nothing was measured.',
    ],
    [
      'bytes that are not HTTP',
      { failureClass: 'config-error', errorCode: 'HPE_INVALID_CONSTANT' },
      { byErrorCode: { HPE_INVALID_CONSTANT: 1 } },
      'The target answers with bytes that are not HTTP: not an HTTP server, so nothing was measured.',
    ],
    [
      'a frame that broke the protocol',
      { failureClass: 'config-error', closeCode: 1002, protocolError: 'Invalid WebSocket frame: invalid opcode 5' },
      { byCloseCode: { '1002': 1 } },
      'The server broke the WebSocket protocol after the upgrade (Invalid WebSocket frame: invalid opcode 5): a ' +
        'protocol error, not a ceiling.',
    ],
    [
      'every upgrade refused before any opened',
      { failureClass: 'handshake-rejected', status: 503 },
      { byStatus: { '503': 5 } },
      'The target refused every upgrade with HTTP 503 before any connection opened: nothing was measured.',
    ],
  ])('words a target that cannot be measured: %s', (_name, first, counts, expected) => {
    const kind = first.failureClass === 'config-error' ? 'config-error' : 'unreachable';
    const failures = { total: 1, byClass: {}, byStatus: {}, byCloseCode: {}, byErrorCode: {}, ...counts };
    const firstFailure = { at: heldRun.startedAt, openCount: 0, stage: 0, failureClass: 'config-error', ...first };
    const run: RunResult = {
      ...heldRun,
      verdict: 'failed',
      ceiling: { value: null, reached: false },
      limitingFactor: { kind, summary: '', evidence: { failures, firstFailure } as Evidence },
    };
    expect(describeCause(run)).toBe(expected);
  });
});
