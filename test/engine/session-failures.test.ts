// Failed sessions as the engine judges them: a session rejected after the upgrade and a session set-up that failed
// before it are capacity signals once others opened (a cap or a rate limit, on sessions or of the URL provider, said
// as such), and a configuration error when nothing had opened; counted apart from upgrades, marked on the timeline,
// with time to ready beside handshake time.
import { describe, expect, it } from 'vitest';
import { analyzeRun } from '../../functions/engine/analysis.js';
import { classifyRecord } from '../../functions/engine/classify.js';
import { collectFailures, countFailures } from '../../functions/engine/failures.js';
import type { ConnectionRecord } from '../../functions/engine/types.js';
import { describeCause } from '../../functions/engine/words/cause-headline.js';
import { formatFailureCodes } from '../../functions/engine/words/failure-phrases.js';
import {
  openMany,
  opened,
  planOf,
  refused,
  sessionRejected,
  setupFailed,
  shardOf,
  stagesOf,
} from '../support/records.js';

const stages = stagesOf([40, 80], 1000, 2000);
const analyse = (records: ConnectionRecord[], stagesRun = 2) =>
  analyzeRun({
    plan: planOf(stages),
    shards: [shardOf(records, stagesRun)],
    tolerance: { kind: 'count', value: 0 },
    heartbeat: 'ping',
    url: 'ws://127.0.0.1:1/',
  });
const headline = (analysis: ReturnType<typeof analyse>) => describeCause(analysis);
const closed4429 = { reason: 'closed', afterMs: 2, closeCode: 4429, excerpt: 'Too many sessions' } as const;

describe('classifyRecord of failed sessions', () => {
  const rejected = sessionRejected(0, 5, closed4429);
  const limited = setupFailed(0, 5, { reason: 'status', status: 429, retryAfter: '1' });
  it.each([
    ['a rejected session after others opened', rejected, true, 'session-rejected'],
    ['the first session rejected', rejected, false, 'config-error'],
    ['a URL provider 429 after others opened', limited, true, 'session-setup'],
    ['the first URL provider call refused', limited, false, 'config-error'],
    [
      'a URL provider 401 after others opened',
      setupFailed(0, 5, { reason: 'status', status: 401 }),
      true,
      'config-error',
    ],
    [
      'signing that fails after others opened',
      setupFailed(0, 5, { reason: 'signing', errorName: 'E' }),
      true,
      'config-error',
    ],
  ])('%s', (_name, record, anyOpenedBefore, expected) => {
    expect(classifyRecord(record, { anyOpenedBefore })).toBe(expected);
  });
});

describe('analyzeRun of failed sessions', () => {
  it('reads sessions rejected from a count on, none set up after, as a cap on sessions, with the close codes', () => {
    const records = [
      ...openMany(0, 40, 0, 20),
      ...openMany(1, 10, 3000, 20),
      ...Array.from({ length: 30 }, (_, i) => sessionRejected(1, 3200 + i * 20, closed4429)),
    ];
    const analysis = analyse(records);
    expect(analysis).toMatchObject({ ceiling: { value: 40, reached: true }, dropOnset: 50 });
    expect(analysis.limitingFactor?.kind).toBe('concurrency-cap');
    expect(analysis.failures).toMatchObject({
      byClass: { 'session-rejected': 30 },
      byStatus: {},
      byCloseCode: {},
      bySessionRejection: { 'close 4429': 30 },
    });
    expect(analysis.limitingFactor?.summary).toBe(
      'Session cap at 50: every connection was upgraded, but sessions were rejected (30 × session close 4429) ' +
        'once 50 sessions were ready, and none was set up after the first rejection.',
    );
    expect(headline(analysis)).toBe(
      'The server rejected sessions (close 4429) once 50 were ready: a concurrency cap on sessions.',
    );
    expect(analysis.timeline.failures[0]).toMatchObject({
      failureClass: 'session-rejected',
      closeCode: 4429,
      open: 50,
    });
  });

  it('reads the URL provider refusing calls while connections keep opening as its rate limit, not the gateway', () => {
    const records = [...openMany(0, 40, 0, 20)];
    for (let i = 0; i < 30; i += 1) {
      records.push(opened(1, 3000 + i * 50));
      records.push(setupFailed(1, 3025 + i * 50, { reason: 'status', status: 429, retryAfter: '2' }));
    }
    const analysis = analyse(records);
    expect(analysis.limitingFactor).toMatchObject({
      kind: 'handshake-rate-limit',
      evidence: { retryAfter: ['2'], failures: { byStatus: {}, bySessionSetup: { 'HTTP 429': 30 } } },
    });
    expect(analysis.limitingFactor?.summary).toMatch(
      /^Rate limit of the URL provider: it refused calls \(30 × URL provider HTTP 429, Retry-After 2\) while connections kept opening at about [\d.]+ per second; the open count rose from 41 to 70 after the first refusal\. This is the limit of the REST API that hands out sessions \(--session-url-from\), not of the WebSocket gateway: pace its calls \(--session-url-rate\) or ramp more slowly \(--rate\)\.$/,
    );
    expect(headline(analysis)).toMatch(
      /^The URL provider refused sessions \(HTTP 429\) \(Retry-After 2\) while connections kept opening at about [\d.]+ per second: a rate limit of the REST API that hands out sessions, not of the WebSocket gateway\.$/,
    );
    expect(formatFailureCodes(analysis.failures)).toEqual(['URL provider HTTP 429 × 30']);
    expect(analysis.timeline.failures[0]).toMatchObject({ failureClass: 'session-setup', status: 429 });
  });

  it('reads the URL provider refusing new sessions from a count on as its cap, said to be the REST API’s', () => {
    const records = [
      ...openMany(0, 40, 0, 20),
      ...openMany(1, 5, 3000, 20),
      ...Array.from({ length: 35 }, (_, i) => setupFailed(1, 3200 + i * 20, { reason: 'status', status: 503 })),
    ];
    const analysis = analyse(records);
    expect(analysis.limitingFactor?.kind).toBe('concurrency-cap');
    expect(analysis.limitingFactor?.summary).toBe(
      'Cap of the URL provider at 45: it refused new sessions (35 × URL provider HTTP 503) once 45 connections ' +
        'were open, and none opened after the first refusal. This is the limit of the REST API that hands out ' +
        'sessions (--session-url-from), not of the WebSocket gateway.',
    );
  });

  it('keeps the wording of upgrades when upgrades were refused too', () => {
    const records = [
      ...openMany(0, 40, 0, 20),
      refused(1, 3000, 503),
      sessionRejected(1, 3010, closed4429),
      ...Array.from({ length: 10 }, (_, i) => refused(1, 3100 + i * 10, 503)),
    ];
    const analysis = analyse(records);
    expect(analysis.limitingFactor?.summary).toBe(
      'Concurrency cap at 40: upgrades failed (11 × HTTP 503, 1 × session close 4429) once 40 connections were ' +
        'open, and none opened after the first refusal.',
    );
  });

  it.each([
    [
      sessionRejected(0, 10, { reason: 'ready-timeout', afterMs: 2000 }),
      'ws://127.0.0.1:1/ upgraded the connection, but no message matching --ready-when came within 2.0 s before ' +
        "any session was ready: check --ready-when (the server's ready message, e.g. connection_ack) and " +
        '--init-message. This is a probe failure, not a ceiling.',
      'The server rejected the first session (ready timeout): a configuration problem (--init-message, ' +
        '--ready-when or the credentials they carry), not a ceiling.',
    ],
    [
      sessionRejected(0, 10, { reason: 'error-message', afterMs: 3, closeCode: 4403, excerpt: 'Forbidden' }),
      'ws://127.0.0.1:1/ upgraded the connection, then answered its session with an error message ("Forbidden") ' +
        'and closed it with 4403 before any session was ready: check --init-message (and the credentials it ' +
        'carries) and --ready-when. This is a probe failure, not a ceiling.',
      'The server rejected the first session (close 4403): a configuration problem (--init-message, --ready-when ' +
        'or the credentials they carry), not a ceiling.',
    ],
    [
      setupFailed(0, 10, { reason: 'bad-response', detail: 'the response has no text at data.url' }),
      "The URL provider's answer could not be used (the response has no text at data.url) before any connection " +
        'to ws://127.0.0.1:1/ opened: check --session-url-path. This is a probe failure, not a ceiling.',
      'The URL provider failed the session (bad response): a configuration problem (--session-url-from and its ' +
        'options), not a ceiling.',
    ],
    [
      setupFailed(0, 10, { reason: 'signing', errorName: 'CredentialsProviderError' }),
      'The upgrade URL could not be signed (CredentialsProviderError) before any connection to ws://127.0.0.1:1/ ' +
        'opened: check the AWS credentials (--sigv4 takes them from the default chain) and --sigv4-region. This ' +
        'is a probe failure, not a ceiling.',
      'The upgrade URL could not be signed (CredentialsProviderError): a credentials problem (--sigv4), not a ' +
        'ceiling.',
    ],
  ])('fails the run when the first session fails: %#', (record, summary, cause) => {
    const analysis = analyse([record], 0);
    expect(analysis).toMatchObject({
      verdict: 'failed',
      ceiling: { value: null },
      limitingFactor: { kind: 'config-error' },
    });
    expect(analysis.limitingFactor?.summary).toBe(summary);
    expect(headline(analysis)).toBe(cause);
  });

  it('reports time to ready beside handshake time, per stage and for the run, only when sessions waited for it', () => {
    const ready = (at: number, readyMs: number) => ({ ...opened(0, at), readyMs });
    const analysis = analyse([ready(0, 10), ready(20, 20), ready(40, 30), ...openMany(1, 40, 3000, 20)]);
    expect(analysis.readyMs).toEqual({ p50: 20, p95: 30, p99: 30 });
    expect(analysis.stages[0]?.readyMs).toEqual({ p50: 20, p95: 30, p99: 30 });
    expect(analysis.stages[1]?.readyMs).toBeUndefined();
    expect(analysis.stages[0]?.handshakeMs.p50).toBe(1);
    expect(analyse(openMany(0, 40, 0, 20)).readyMs).toBeUndefined();
  });

  it('leaves counts of runs without sessions as they were', () => {
    const events = collectFailures([refused(0, 5, 503)], stages);
    expect(countFailures(events)).toEqual({
      total: 1,
      byClass: { 'handshake-rejected': 1 },
      byStatus: { '503': 1 },
      byCloseCode: {},
      byErrorCode: {},
    });
  });
});
