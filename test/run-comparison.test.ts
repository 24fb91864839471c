import { describe, expect, it } from 'vitest';
import { compareRuns } from '../functions/report/run-comparison.js';
import { recordedRun, rerun } from './support/report-fixtures.js';
import { cappedRun } from './support/run-results.js';

const cap = recordedRun('concurrency-cap');
const rate = recordedRun('handshake-rate-limit');

describe('compareRuns', () => {
  it('shows the ceiling, onset, cause, latency and failure mix moving from a cap run to a rate-limit run', () => {
    const comparison = compareRuns(cap, rate);
    expect(comparison.before).toMatchObject({ runId: cap.runId, verdict: 'ok', ceiling: { value: 150, reached: true } });
    expect(comparison.after).toMatchObject({ runId: rate.runId, limitingFactor: { kind: 'handshake-rate-limit' } });
    expect(comparison.ceiling).toEqual({ before: 150, after: 20, difference: -130, fraction: -130 / 150, exact: true });
    expect(comparison.dropOnset).toEqual({ before: 150, after: 44, difference: -106, fraction: -106 / 150 });
    expect(comparison.limitingFactorChanged).toBe(true);
    expect(comparison.handshakeMs.p50).toEqual({ before: 1.7, after: 1.9, difference: expect.closeTo(0.2, 5), fraction: expect.closeTo(0.2 / 1.7, 5) });
    expect(comparison.handshakeMs.p99).toMatchObject({ before: 10.4, after: 14.9 });
    expect(comparison.failures.total).toEqual({ before: 50, after: 13, difference: -37, fraction: -37 / 50 });
    expect(comparison.failures.mix).toEqual([
      { group: 'class', key: 'handshake-rejected', before: 50, after: 13, difference: -37 },
      { group: 'status', key: '503', before: 50, after: 0, difference: -50 },
      { group: 'status', key: '429', before: 0, after: 13, difference: 13 },
    ]);
  });

  it('says runs with different config hashes are not directly comparable and lists the differing settings by flag', () => {
    const comparison = compareRuns(cap, rate);
    expect(comparison.comparable).toBe(false);
    expect(comparison.settingChanges).toEqual([
      { setting: 'url', before: 'ws://127.0.0.1:36279/', after: 'ws://127.0.0.1:45211/' },
      { setting: '--stages', before: '50,100,150,200', after: '20,60,100' },
    ]);
  });

  it('lists repeatable and optional settings that appear in only one run', () => {
    const other = {
      ...cappedRun,
      configHash: 'other',
      settings: { ...cappedRun.settings, headerNames: ['Authorization', 'Cookie'], heartbeat: { kind: 'off' as const }, minCeiling: undefined },
    };
    expect(compareRuns(cappedRun, other).settingChanges).toEqual([
      { setting: '--ping', before: '20', after: 'off' },
      { setting: '--pong-timeout', before: '10', after: null },
      { setting: '--header', before: 'Authorization: <value>', after: 'Authorization: <value>; Cookie: <value>' },
      { setting: '--min-ceiling', before: '100', after: null },
    ]);
  });

  it('finds nothing to list when the config hashes match', () => {
    const again = rerun(cap, 'again', '2026-11-23T00:00:00.000Z', { ceiling: { value: 100, reached: true } });
    const comparison = compareRuns(cap, again);
    expect(comparison.comparable).toBe(true);
    expect(comparison.settingChanges).toEqual([]);
    expect(comparison.limitingFactorChanged).toBe(false);
    expect(comparison.ceiling).toMatchObject({ difference: -50, exact: true });
  });

  it('marks a ceiling change as a bound when a run held the plan maximum, and has none without a ceiling', () => {
    const held = rerun(cap, 'held', '2026-11-23T00:00:00.000Z', { ceiling: { value: 200, reached: false } });
    expect(compareRuns(cap, held).ceiling).toMatchObject({ difference: 50, exact: false });
    const none = compareRuns(cap, recordedRun('idle-timeout')).ceiling;
    expect(none).toEqual({ before: 150, after: null, difference: null, fraction: null, exact: false });
  });
});
