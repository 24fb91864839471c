/**
 * Reads a run item written by any version of ws-ceiling as a current
 * RunResult. Runs stored before baselines and timelines existed lack those
 * fields; they read as "no baseline" and an empty timeline, which the report
 * says in words instead of failing on.
 */
import type { RunResult, RunTimeline } from './types.js';

/** A run as an older version stored it: the fields added since are missing. */
export type StoredRun = Omit<RunResult, 'baseline' | 'timeline'> & Partial<Pick<RunResult, 'baseline' | 'timeline'>>;

/** True when the run carries no timeline (stored before timelines were recorded). */
export function hasTimeline(timeline: RunTimeline): boolean {
  return timeline.open.length > 0 || timeline.stages.length > 0;
}

/** `stored` with every field added since it was written filled with its "not recorded" value. */
export function currentRunOf(stored: StoredRun): RunResult {
  return {
    ...stored,
    baseline: stored.baseline ?? null,
    timeline: stored.timeline ?? { open: [], stages: [], failures: [], failuresOmitted: 0 },
  };
}
