import { describe, expect, it } from 'vitest';
import { formatFailureClasses, formatFailureCodes } from '../../../functions/engine/words/failure-phrases.js';
import { loadRecordedRun } from '../../fixtures/simulator-runs.js';

const cap = loadRecordedRun('concurrency-cap');
const held = loadRecordedRun('held');

describe('formatFailureClasses', () => {
  it('lists each class with its count', () => {
    expect(formatFailureClasses(cap.failures)).toBe(`handshake-rejected ${cap.failures.total}`);
    expect(
      formatFailureClasses({ ...cap.failures, byClass: { 'handshake-rejected': 48, 'abnormal-closure': 2 } }),
    ).toBe('handshake-rejected 48, abnormal-closure 2');
    expect(formatFailureClasses(held.failures)).toBe('');
  });
});

describe('formatFailureCodes', () => {
  it('lists statuses, close codes and error codes in that order', () => {
    expect(formatFailureCodes(loadRecordedRun('idle-timeout').failures)).toEqual([
      `close 1006 × ${loadRecordedRun('idle-timeout').failures.total}`,
    ]);
    expect(formatFailureCodes({ ...cap.failures, byCloseCode: { '1006': 2 }, byErrorCode: { ECONNRESET: 1 } })).toEqual(
      [`HTTP 503 × ${cap.failures.total}`, 'close 1006 × 2', 'ECONNRESET × 1'],
    );
  });
});
