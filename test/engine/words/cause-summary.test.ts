import { describe, expect, it } from 'vitest';
import type { FailureCounts } from '../../../functions/engine/types.js';
import { summarizeCause } from '../../../functions/engine/words/cause-summary.js';

const counts = (overrides: Partial<FailureCounts>): FailureCounts => ({
  total: 0,
  byClass: {},
  byStatus: {},
  byCloseCode: {},
  byErrorCode: {},
  ...overrides,
});

const refusals = counts({ total: 12, byClass: { 'handshake-rejected': 12 }, byStatus: { '503': 12 } });
const spread = { count: 4, medianSeconds: 30.2, minSeconds: 29.8, maxSeconds: 30.4 };

describe('summarizeCause', () => {
  it('words a concurrency cap with its onset and refusals', () => {
    expect(summarizeCause({ kind: 'concurrency-cap', failures: refusals, onset: 150 })).toBe(
      'Concurrency cap at 150: upgrades failed (12 × HTTP 503) once 150 connections were open, and none opened ' +
        'after the first refusal.',
    );
  });

  it('words a rate limit, and says when its refusals were too brief to measure the rate', () => {
    const facts = { kind: 'handshake-rate-limit', failures: refusals, onset: 40, peak: 90 } as const;
    expect(summarizeCause({ ...facts, retryAfter: ['1'], perSecond: 20.5 })).toBe(
      'Handshake rate limit: upgrades were refused (12 × HTTP 503, Retry-After 1) while connections kept opening ' +
        'at about 20.5 per second; the open count rose from 40 to 90 after the first refusal, so the limit is on ' +
        'the rate, not the count. Ramp more slowly (--rate) to pass it.',
    );
    expect(summarizeCause({ ...facts, retryAfter: [], perSecond: undefined })).toContain(
      'to pass it. The refusals lasted too briefly to estimate the rate let through: ws-ceiling diagnose measures it.',
    );
  });

  it('names a handshake slowdown in a degradation only when it is marked', () => {
    const failures = counts({ total: 13, byClass: { 'pong-timeout': 3 }, byCloseCode: { '1011': 10 } });
    const facts = { kind: 'server-degradation', failures, onset: 80 } as const;
    expect(summarizeCause({ ...facts, handshakeP95Ms: { first: 3.31, failing: 202.46 } })).toBe(
      'Server degradation from 80 open connections: 3 pong timeouts, 10 closes with code 1011, with handshake p95 ' +
        'rising from 3.3 ms in the first stage to 202.5 ms in the failing one. Open connections were dropped ' +
        'rather than new ones refused.',
    );
    expect(summarizeCause({ ...facts, handshakeP95Ms: { first: 3, failing: 5 } })).toContain('code 1011. Open');
  });

  it('advises a heartbeat for an idle timeout without one, and another kind when one was sent', () => {
    const failures = counts({ total: 4, byCloseCode: { '1006': 4 } });
    const facts = { kind: 'idle-timeout', failures, drops: 4, idle: spread, heartbeatsSent: true } as const;
    expect(summarizeCause({ ...facts, heartbeat: 'off', heartbeatsSent: false })).toBe(
      'Idle timeout of 30.2 s: 4 connections were closed (1006, no close frame) 30.2 s after their last frame ' +
        '(29.8–30.4 s), whatever the open count. Keep connections alive with --ping under 30.2 s to measure the ' +
        'concurrency ceiling.',
    );
    expect(summarizeCause({ ...facts, heartbeat: 'ping' })).toContain(
      'The protocol pings sent did not reset it: try the other kind of heartbeat or a shorter interval.',
    );
  });

  it('words a maximum lifetime as a duration limit', () => {
    const failures = counts({ total: 4, byCloseCode: { '1001': 4 } });
    expect(summarizeCause({ kind: 'max-lifetime', failures, drops: 4, age: spread, heartbeatsSent: true })).toBe(
      'Maximum connection lifetime of 30.2 s: 4 connections were closed (code 1001) 30.2 s after they opened ' +
        '(29.8–30.4 s), whatever the open count, even with heartbeats. This is a duration limit, not a concurrency ' +
        'ceiling.',
    );
  });

  it('words the probe failures with the URL and what the target answered', () => {
    expect(summarizeCause({ kind: 'config-error', url: 'ws://h/', status: 401 })).toBe(
      'The target refused the connection as misconfigured (HTTP 401) at ws://h/: check the URL, --header values ' +
        'and --subprotocol. This is a probe failure, not a ceiling.',
    );
    // A signed run's 403 names the signature before the URL; an unsigned 403, or a signed 401, does not.
    const sigv4 = { region: 'eu-west-1', service: 'execute-api' };
    expect(summarizeCause({ kind: 'config-error', url: 'ws://h/', status: 403, sigv4 })).toBe(
      'The target refused the signed upgrade (HTTP 403) at ws://h/: check the SigV4 signature first: the ' +
        "credentials it was signed with (the default credential chain locally, the worker's role when deployed) and " +
        'their permission to invoke the API, the region eu-west-1 and service execute-api it was signed for ' +
        "(--sigv4-region, --sigv4-service), and this machine's clock (AWS refuses a signature more than 5 minutes " +
        'off); then the URL, --header values and --subprotocol. This is a probe failure, not a ceiling.',
    );
    expect(summarizeCause({ kind: 'config-error', url: 'ws://h/', status: 403 })).not.toContain('SigV4');
    expect(summarizeCause({ kind: 'config-error', url: 'ws://h/', status: 401, sigv4 })).not.toContain('SigV4');
    expect(summarizeCause({ kind: 'unreachable', url: 'ws://h/', unanswered: false, errorCode: 'ENOTFOUND' })).toBe(
      'Could not reach ws://h/ (ENOTFOUND) before any connection opened: check the URL and that the target is ' +
        'running. This is a probe failure, not a ceiling.',
    );
    expect(summarizeCause({ kind: 'unreachable', url: 'ws://h/', unanswered: true })).toContain(
      '(TCP connected but the upgrade was never answered)',
    );
  });

  it("words the probe's own limits with their fix", () => {
    const ranOut = { kind: 'probe-ran-out', resource: 'ephemeral-ports', errorCode: 'EADDRNOTAVAIL' } as const;
    expect(summarizeCause({ ...ranOut, openCount: 28_000, shardsShareProcess: true })).toMatch(
      /^The probe itself ran out of local ports \(EADDRNOTAVAIL\) at 28000 open connections, so this run cannot say/,
    );
    const starved = { kind: 'probe-starved', p99Ms: 612.4, worstMs: 1503.6, starvedMs: 500 } as const;
    expect(summarizeCause({ ...starved, shardsShareProcess: false })).toMatch(
      /^The probe's event loop was starved \(p99 delay 612 ms, up to 1504 ms; 500 ms or more is starved\)/,
    );
  });
});
