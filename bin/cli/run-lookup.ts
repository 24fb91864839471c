/**
 * Finding stored runs by name, shared by `compare` and `report`: a run is
 * named by its id, a unique start of its id, or `latest` / `previous` (the
 * newest and second-newest run, of `--target-id` when given).
 */
import { InvalidInputError } from '../../functions/engine/errors.js';
import type { RunStore } from '../../functions/engine/run-store.js';
import type { RunResult } from '../../functions/engine/types.js';

/** Most stored runs searched for a run id (the store has no lookup by id yet). */
const RUN_LOOKUP_LIMIT = 10_000;

/** Fewest characters of a run id accepted as its start. */
const MIN_ID_PREFIX = 4;

/** Which run of the newest-first list `latest` and `previous` name. */
const RELATIVE_NAMES: Record<string, number> = { latest: 0, previous: 1 };

/** The stored runs to search, newest first: one target's when given, else every target's. */
export function storedRuns(store: RunStore, targetId: string | undefined): Promise<RunResult[]> {
  return targetId === undefined ? store.recentRuns(RUN_LOOKUP_LIMIT) : store.latestRuns(targetId, RUN_LOOKUP_LIMIT);
}

/**
 * The run `name` refers to among `runs` (newest first): `latest`, `previous`,
 * an exact run id, or a unique start of one of at least 4 characters.
 * Throws an InvalidInputError naming `field` when there is no such run or
 * the start matches several.
 */
export function findRun(
  runs: readonly RunResult[],
  name: string,
  field: string,
  scope: { targetId?: string; store: string },
): RunResult {
  const runsOf = scope.targetId === undefined ? 'the runs' : `the runs of target "${scope.targetId}"`;
  const where = `${runsOf} in ${scope.store}`;
  const position = RELATIVE_NAMES[name];
  if (position !== undefined) {
    const run = runs[position];
    if (!run)
      throw new InvalidInputError(
        field,
        `"${name}" needs at least ${position + 1} stored run${position ? 's' : ''}, ` +
          `found ${runs.length} among ${where}`,
      );
    return run;
  }
  const exact = runs.find((run) => run.runId === name);
  if (exact) return exact;
  const matches = name.length >= MIN_ID_PREFIX ? runs.filter((run) => run.runId.startsWith(name)) : [];
  const [match, ...others] = matches;
  if (match && others.length === 0) return match;
  if (match) {
    throw new InvalidInputError(
      field,
      `"${name}" is the start of ${matches.length} run ids (${matches.map((run) => run.runId).join(', ')}): give ` +
        'more of it',
    );
  }
  throw new InvalidInputError(
    field,
    `no run "${name}" among ${where}: give a run id (or its first ${MIN_ID_PREFIX}+ characters), latest or ` +
      'previous; ws-ceiling history lists them',
  );
}
