import { describe, expect, it } from 'vitest';
import { markdownSummary, STATUS_WORDS } from '../functions/report/markdown-summary.js';
import { recordedRun, withBaseline } from './support/report-fixtures.js';
import { cappedRun } from './support/run-results.js';

describe('markdownSummary', () => {
  it('summarises a regressed run with its cause, baseline, floor, stages and a secret-free reproduce command', () => {
    const run = { ...cappedRun, url: 'wss://chat.example.com/socket?token=redacted' };
    expect(markdownSummary(run)).toBe(
      [
        '### ws-ceiling FAIL: `chat-prod` (regressed)',
        '',
        'The ceiling of 150 is 25% under the baseline of 200.',
        '',
        'The server refuses new connections above 150 open ones (HTTP 503).',
        '',
        '| | |',
        '| --- | --- |',
        '| Ceiling | 150 concurrent connections (held 30 s within tolerance) |',
        '| Drops began | at 151 open connections |',
        '| Cause | `concurrency-cap` |',
        '| Baseline | 200 (median of 7 earlier runs): this run is 75 % of it; under 180 is a regression |',
        '| Floor | 100 (`--min-ceiling`) |',
        '| Handshake ms p50 / p95 / p99 | 4.3 / 12.5 / 31.8 |',
        '| Failures | handshake-rejected 48, abnormal-closure 2 (HTTP 503 × 48, close 1006 × 2) |',
        '',
        '| stage | target | opened | open at end | failed | handshake ms p50 / p95 / p99 | held |',
        '| ---: | ---: | ---: | ---: | ---: | --- | --- |',
        '| 1 | 50 | 50 | 50 | 0 | 4.3 / 12.5 / 20.0 | yes |',
        '| 4 | 200 | 0 | 148 | 50 | – / – / – | no |',
        '',
        'Run `run-capped` started 2025-03-01 10:00:00 UTC, probe 0.1.0, region eu-west-1. To reproduce (fill in each `<value>` and the query values shown as `redacted`):',
        '',
        '```sh',
        "ws-ceiling run 'wss://chat.example.com/socket?token=redacted' --target-id chat-prod --stages 50,100,150,200 --hold 30 --rate 100 --max-in-flight 50 --handshake-timeout 10 --ping 20 --pong-timeout 10 --header 'Authorization: <value>' --subprotocol chat.v1 --tolerance 0 --max-connections 5000 --shard-size 900 --min-ceiling 100",
        '```',
        '',
      ].join('\n'),
    );
  });

  it('summarises a recorded rate-limit run that kept its baseline', () => {
    expect(markdownSummary(withBaseline(recordedRun('handshake-rate-limit'), 20, 3))).toBe(
      [
        '### ws-ceiling PASS: `demo` (ok)',
        '',
        'Handshake rate limit: upgrades were refused (13 × HTTP 429, Retry-After 1) while connections kept opening at about 20.8 per second; the open count rose from 44 to 47 after the first refusal, so the limit is on the rate, not the count. Ramp more slowly (--rate) to pass it.',
        '',
        '| | |',
        '| --- | --- |',
        '| Ceiling | 20 concurrent connections (held 2 s within tolerance) |',
        '| Drops began | at 44 open connections |',
        '| Cause | `handshake-rate-limit` |',
        '| Baseline | 20 (median of 3 earlier runs): this run is 100 % of it; under 18 is a regression |',
        '| Handshake ms p50 / p95 / p99 | 1.9 / 6.6 / 14.9 |',
        '| Failures | handshake-rejected 13 (HTTP 429 × 13) |',
        '',
        '| stage | target | opened | open at end | failed | handshake ms p50 / p95 / p99 | held |',
        '| ---: | ---: | ---: | ---: | ---: | --- | --- |',
        '| 1 | 20 | 20 | 20 | 0 | 2.2 / 6.6 / 6.9 | yes |',
        '| 2 | 60 | 27 | 47 | 13 | 1.8 / 6.6 / 14.9 | no |',
        '',
        'Run `e0bc51ae-76fe-44a5-b65d-50a0fff02957` started 2026-11-22 02:22:07 UTC, probe 0.1.0, region local. To reproduce:',
        '',
        '```sh',
        'ws-ceiling run ws://127.0.0.1:45211/ --target-id demo --stages 20,60,100 --hold 2 --rate 100 --max-in-flight 100 --handshake-timeout 10 --ping 20 --pong-timeout 10 --tolerance 0 --max-connections 2000 --shard-size 900',
        '```',
        '',
      ].join('\n'),
    );
  });

  it('says an inconclusive run measured no ceiling and names the duration limit', () => {
    const text = markdownSummary(recordedRun('idle-timeout'));
    expect(text.split('\n').slice(0, 3)).toEqual([
      '### ws-ceiling INCONCLUSIVE: `idle` (inconclusive)',
      '',
      'Idle timeout of 1.0 s: 10 connections were closed (1006, no close frame) 1.0 s after their last frame (1.0–1.0 s), whatever the open count. Keep connections alive with --ping under 1.0 s to measure the concurrency ceiling. No concurrency ceiling was measured.',
    ]);
    expect(text).toContain('| Ceiling | not measured |\n| Drops began | at 10 open connections |\n| Cause | `idle-timeout` |\n| Baseline | none yet |');
    expect(text).toContain('--ping off');
  });

  it('uses an emoji-free status word for every verdict and keeps header values out', () => {
    const failed = markdownSummary(recordedRun('config-error'));
    expect(failed.split('\n')[0]).toBe('### ws-ceiling ERROR: `auth` (failed)');
    expect(failed).toContain("--header 'Authorization: <value>'");
    expect(failed).not.toMatch(/Bearer|s3cret/);
    expect(Object.values(STATUS_WORDS).every((word) => /^[A-Z]+$/.test(word))).toBe(true);
  });

  it('keeps table cells on one line and escapes pipes in free text', () => {
    const text = markdownSummary({ ...recordedRun('unreachable'), targetId: 'a`b', verdictReason: 'one | two\nthree' });
    expect(text.split('\n')[0]).toBe('### ws-ceiling ERROR: `` a`b `` (failed)');
    expect(text.split('\n')[2]).toBe('one \\| two three');
  });
});
