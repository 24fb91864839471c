/**
 * The gates of `diagnose`: --min-ceiling and the regression against the
 * baseline decide its exit code as they decide `run`'s, whichever stage
 * failed. The ramp's own verdict comes first: below-floor or regressed stays
 * so. When the ramp could not judge (not even its first stage held), the
 * ceiling the diagnosis settled is judged the same way: the exact ceiling
 * the refinement found, or, to fail a gate, the count of a confirmed count
 * limit, which no ceiling can exceed. Pure: the run and findings in.
 */
import { describeRegression, regressionThreshold } from '../engine/baseline.js';
import type { RunResult } from '../engine/types.js';
import type { DiagnosisGate, Finding } from './findings.js';

/** The gate of a diagnosis: the ramp's verdict on its gates, else the settled ceiling's; null when nothing judged. */
export function judgeGate(run: RunResult, findings: readonly Finding[]): DiagnosisGate | null {
  if (run.verdict === 'below-floor' || run.verdict === 'regressed') {
    return { verdict: run.verdict, ceiling: run.ceiling.value, reason: run.verdictReason };
  }
  if (run.verdict === 'ok') return { verdict: 'passed', ceiling: run.ceiling.value, reason: null };
  if (run.verdict === 'failed') return null;
  const exact = findings.find((finding) => finding.kind === 'exact-ceiling');
  const cap = findings.find((finding) => finding.kind === 'concurrency-cap' || finding.kind === 'accept-queue');
  // At most: the exact ceiling, else the count limit; at least: only the exact ceiling.
  const atMost = exact?.kind === 'exact-ceiling' ? exact.values.value : cap ? countOf(cap) : null;
  if (atMost === null) return null;
  const settled = exact ? `the diagnosis settled ${atMost}` : `a count limit at ${atMost} bounds it`;
  const floor = run.settings.minCeiling;
  if (floor !== undefined && atMost < floor) {
    return {
      verdict: 'below-floor',
      ceiling: atMost,
      reason:
        `Ceiling ${exact ? '' : 'at most '}${atMost} is under the required minimum ${floor}: not even the ramp's ` +
        `first stage held, and ${settled}.`,
    };
  }
  if (run.baseline !== null && atMost < regressionThreshold(run.baseline)) {
    return {
      verdict: 'regressed',
      ceiling: atMost,
      reason: `${describeRegression(atMost, run.baseline)} Not even the ramp's first stage held, and ${settled}.`,
    };
  }
  return exact ? { verdict: 'passed', ceiling: atMost, reason: null } : null;
}

function countOf(finding: Finding): number | null {
  return finding.kind === 'concurrency-cap' || finding.kind === 'accept-queue' ? finding.values.count : null;
}
