/**
 * Process exit codes of the CLI, one meaning each, so CI pipelines can gate on them.
 */
import type { Verdict } from '../../functions/engine/types.js';

/** 0 completed, 1 a gate failed, 2 invalid input, 3 the probe failed or was inconclusive. */
export const EXIT_CODES = { completed: 0, gateFailed: 1, invalidInput: 2, probeFailed: 3 } as const;

/** The exit code a run's verdict maps to. */
export function exitCodeForVerdict(verdict: Verdict): number {
  switch (verdict) {
    case 'ok':
      return EXIT_CODES.completed;
    case 'below-floor':
    case 'regressed':
      return EXIT_CODES.gateFailed;
    // A skipped run (another run of the target held the run lock) measured nothing either.
    case 'inconclusive':
    case 'failed':
    case 'skipped':
      return EXIT_CODES.probeFailed;
  }
}
