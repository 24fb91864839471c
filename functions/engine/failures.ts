/**
 * Turns merged connection records into failure events (class, time, stage)
 * and counts them by class, HTTP status, close code and connect error code,
 * and failed sessions by their own keys, apart from the upgrades.
 */
import { classifyRecord } from './classify.js';
import { rejectionKey, setupFailureKey } from './session-setup.js';
import type { ConnectionRecord, FailureClass, FailureCounts, StagePlan } from './types.js';

/** One failure with the moment it was observed and the stage it counts against. */
export interface FailureEvent {
  failureClass: FailureClass;
  at: number;
  stage: number;
  record: ConnectionRecord;
}

/**
 * Every failure in the records, oldest first. Handshake failures count against
 * the stage that attempted them; drops against the stage whose window they fell in.
 */
export function collectFailures(records: readonly ConnectionRecord[], stages: readonly StagePlan[]): FailureEvent[] {
  const firstOpenedAt = records.reduce(
    (first, record) => (record.outcome === 'opened' ? Math.min(first, record.settledAt) : first),
    Number.POSITIVE_INFINITY,
  );
  const events: FailureEvent[] = [];
  for (const record of records) {
    const failureClass = classifyRecord(record, { anyOpenedBefore: firstOpenedAt < record.settledAt });
    if (!failureClass) continue;
    const isDrop = record.outcome === 'opened' && record.close !== undefined;
    const at = isDrop && record.close ? record.close.at : record.settledAt;
    events.push({ failureClass, at, stage: isDrop ? stageAt(stages, at) : record.stage, record });
  }
  return events.sort((a, b) => a.at - b.at);
}

/** Counts of `events` by class, status, close code and error code. */
export function countFailures(events: readonly FailureEvent[]): FailureCounts {
  const counts: FailureCounts = { total: 0, byClass: {}, byStatus: {}, byCloseCode: {}, byErrorCode: {} };
  for (const { failureClass, record } of events) {
    counts.total += 1;
    increment(counts.byClass, failureClass);
    if (record.status !== undefined) increment(counts.byStatus, String(record.status));
    if (record.errorCode !== undefined) increment(counts.byErrorCode, record.errorCode);
    if (record.close && record.close.closedBy === 'server') increment(counts.byCloseCode, String(record.close.code));
    if (record.session) increment((counts.bySessionRejection ??= {}), rejectionKey(record.session));
    if (record.setup) increment((counts.bySessionSetup ??= {}), setupFailureKey(record.setup));
  }
  return counts;
}

/** Index of the stage whose window (start to hold end) holds `at`; the last stage after the plan's end. */
function stageAt(stages: readonly StagePlan[], at: number): number {
  const found = stages.find((stage) => at < stage.holdEndsAt);
  return found ? found.index : Math.max(0, stages.length - 1);
}

function increment<K extends string>(counts: Partial<Record<K, number>>, key: K): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
