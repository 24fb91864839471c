/**
 * Condenses a run's records into the small timeline stored with it: open
 * connections over time as step points, the stage windows, and the failures
 * to mark on a chart. Bounded in size so a run item stays far under
 * DynamoDB's 400 KB limit whatever the run's size.
 */
import type { FailureEvent } from './failures.js';
import { rejectionKey, setupFailureKey } from './session-setup.js';
import type { OpenTimeline } from './timeline.js';
import type { ConnectionRecord, RunTimeline, StagePlan, TimelineFailure } from './types.js';

/** Most step points kept; a longer series is sampled at this many even instants. */
export const MAX_TIMELINE_POINTS = 400;
/** Most failures marked per failure class and code. */
export const MAX_MARKED_FAILURES_PER_KIND = 40;

/** The timeline of a run that started at `startAt` (epoch milliseconds). */
export function buildRunTimeline(
  startAt: number,
  stages: readonly StagePlan[],
  records: readonly ConnectionRecord[],
  events: readonly FailureEvent[],
  timeline: OpenTimeline,
): RunTimeline {
  const marked = markedFailures(startAt, events, timeline);
  return {
    open: openSeries(startAt, records, timeline),
    stages: stages.map((stage) => ({
      index: stage.index,
      target: stage.target,
      startMs: stage.startAt - startAt,
      rampEndsMs: stage.rampEndsAt - startAt,
      holdEndsMs: stage.holdEndsAt - startAt,
    })),
    failures: marked,
    failuresOmitted: events.length - marked.length,
  };
}

function openSeries(
  startAt: number,
  records: readonly ConnectionRecord[],
  timeline: OpenTimeline,
): Array<[number, number]> {
  const changes = [
    ...new Set(
      records.flatMap((record) =>
        record.outcome !== 'opened' ? [] : record.close ? [record.settledAt, record.close.at] : [record.settledAt],
      ),
    ),
  ].sort((a, b) => a - b);
  const first = changes[0];
  const last = changes.at(-1);
  if (first === undefined || last === undefined) return [];
  const instants =
    changes.length <= MAX_TIMELINE_POINTS
      ? changes
      : Array.from(
          { length: MAX_TIMELINE_POINTS },
          (_, i) => first + Math.round(((last - first) * i) / (MAX_TIMELINE_POINTS - 1)),
        );
  return [[0, 0], ...instants.map((at): [number, number] => [Math.max(0, at - startAt), timeline.openAfter(at)])];
}

function markedFailures(startAt: number, events: readonly FailureEvent[], timeline: OpenTimeline): TimelineFailure[] {
  const perKind = new Map<string, number>();
  const marked: TimelineFailure[] = [];
  for (const event of [...events].sort((a, b) => a.at - b.at)) {
    const { record } = event;
    const session = sessionMark(record);
    const code = record.status ?? record.close?.code ?? record.errorCode ?? session.status ?? session.closeCode;
    const kind = `${event.failureClass}:${code ?? session.detail ?? ''}`;
    const seen = perKind.get(kind) ?? 0;
    if (seen >= MAX_MARKED_FAILURES_PER_KIND) continue;
    perKind.set(kind, seen + 1);
    marked.push({
      atMs: Math.max(0, event.at - startAt),
      failureClass: event.failureClass,
      open: timeline.openAt(event.at),
      ...(record.status !== undefined ? { status: record.status } : {}),
      ...(record.outcome === 'opened' && record.close ? { closeCode: record.close.code } : {}),
      ...(record.errorCode !== undefined ? { errorCode: record.errorCode } : {}),
      ...session,
    });
  }
  return marked;
}

/**
 * What marks a failed session: the URL provider's HTTP status or the session's close code, or else its key
 * (`ready timeout`, `error message`, `timeout`, `bad response`, `signing`, a network error code).
 */
function sessionMark(record: ConnectionRecord): Pick<TimelineFailure, 'status' | 'closeCode' | 'detail'> {
  const { setup, session } = record;
  if (setup) return setup.reason === 'status' ? { status: setup.status } : { detail: setupFailureKey(setup) };
  if (session)
    return session.closeCode !== undefined ? { closeCode: session.closeCode } : { detail: rejectionKey(session) };
  return {};
}
