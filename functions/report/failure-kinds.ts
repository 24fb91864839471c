/**
 * A run's failures by kind, a class together with its code, counted: e.g.
 * `handshake-rejected · HTTP 503 × 50`, for the chart legend, so a printout
 * carries the codes the markers only show on hover. The stored timeline marks
 * at most MAX_MARKED_FAILURES_PER_KIND failures per kind and counts the rest
 * in `failuresOmitted`; this restores each kind's count from the marks, the
 * omitted total and the run's counts by class and code. Pure.
 */
import { MAX_MARKED_FAILURES_PER_KIND } from '../engine/run-timeline.js';
import type { FailureClass, FailureCounts, RunResult, TimelineFailure } from '../engine/types.js';

/** One kind of failure and how many there were. */
export interface FailureKind {
  failureClass: FailureClass;
  /**
   * `HTTP 503`, `close 1006`, `ECONNRESET`, a failed session's key (`ready timeout`), or none for a class without a
   * code (handshake-timeout, pong-timeout).
   */
  code?: string;
  count: number;
  /** True when the count is only known to be at least `count` (several kinds reached the marking bound). */
  atLeast: boolean;
}

/** What the kinds are read from. */
export type KindsRun = Pick<RunResult, 'timeline' | 'failures'>;

/** Classes whose failures carry no code worth naming: the probe closed them or nothing answered. */
const CODELESS_CLASSES: ReadonlySet<FailureClass> = new Set<FailureClass>(['handshake-timeout', 'pong-timeout']);

/** The failure kinds of `run`, in the order they first failed. */
export function failureKinds(run: KindsRun): FailureKind[] {
  const marked = new Map<string, { failureClass: FailureClass; code?: string; marks: number }>();
  for (const failure of run.timeline.failures) {
    const code = codeOf(failure);
    const key = `${failure.failureClass} ${code ?? ''}`;
    const kind = marked.get(key) ?? {
      failureClass: failure.failureClass,
      ...(code !== undefined ? { code } : {}),
      marks: 0,
    };
    kind.marks += 1;
    marked.set(key, kind);
  }
  const kinds = [...marked.values()];
  const full = kinds.filter((kind) => kind.marks >= MAX_MARKED_FAILURES_PER_KIND);
  return kinds.map(({ marks, ...kind }) => {
    if (marks < MAX_MARKED_FAILURES_PER_KIND) return { ...kind, count: marks, atLeast: false };
    if (full.length === 1) return { ...kind, count: marks + run.timeline.failuresOmitted, atLeast: false };
    const total = totalOf(kind, kinds, run.failures);
    return total === undefined ? { ...kind, count: marks, atLeast: true } : { ...kind, count: total, atLeast: false };
  });
}

/** `handshake-rejected · HTTP 503 × 50`, `pong-timeout × 10`, `… × 40 or more`. */
export function describeFailureKind(kind: FailureKind): string {
  const code = kind.code === undefined ? '' : ` · ${kind.code}`;
  return `${kind.failureClass}${code} × ${kind.count}${kind.atLeast ? ' or more' : ''}`;
}

/**
 * The code a failure is known by: its HTTP status, the close code the server
 * sent, or the connect error code.
 */
function codeOf(failure: TimelineFailure): string | undefined {
  if (CODELESS_CLASSES.has(failure.failureClass)) return undefined;
  if (failure.status !== undefined) return `HTTP ${failure.status}`;
  if (failure.closeCode !== undefined) return `close ${failure.closeCode}`;
  return failure.errorCode ?? failure.detail;
}

/**
 * A kind's exact total from the run's counts, when they tell it apart: the
 * code's count when no other kind has that code, or the class's count when
 * no other kind has that class. Undefined when neither does.
 */
function totalOf(
  kind: { failureClass: FailureClass; code?: string },
  kinds: ReadonlyArray<{ failureClass: FailureClass; code?: string }>,
  counts: FailureCounts,
): number | undefined {
  const sameCode = kinds.filter((other) => other.code === kind.code);
  if (kind.code !== undefined && sameCode.length === 1) {
    const [group, key] = kind.code.startsWith('HTTP ')
      ? [counts.byStatus, kind.code.slice(5)]
      : kind.code.startsWith('close ')
        ? [counts.byCloseCode, kind.code.slice(6)]
        : [counts.byErrorCode, kind.code];
    if (group[key] !== undefined) return group[key];
  }
  const sameClass = kinds.filter((other) => other.failureClass === kind.failureClass);
  return sameClass.length === 1 ? counts.byClass[kind.failureClass] : undefined;
}
