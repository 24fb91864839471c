/**
 * The deployed runs of several regions side by side, for a pre-launch check
 * per region: `ws-ceiling history --regions a,b` lists the runs of every
 * region's runs table in one listing, newest first, each with its region;
 * `ws-ceiling compare --target-id X --regions a,b` puts the latest run of
 * the target in each region next to each other: verdict, ceiling, baseline,
 * cause, where drops began. Each region's table is read with its own clients.
 */
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import type { ResourceNames } from '../../functions/config/resource-names.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
import type { RunResult } from '../../functions/engine/types.js';
import { NONE } from '../../functions/engine/units.js';
import { describeCause } from '../../functions/engine/words/cause-headline.js';
import { formatCeiling, formatPercent } from '../../functions/report/format.js';
import {
  awsCall,
  DEFAULT_DEPLOYED_DEPS,
  parseDeployment,
  parseRegions,
  parseTargetId,
  withClients,
  type DeployedDeps,
  type TextIo,
} from './deployed-common.js';
import { EXIT_CODES } from './exit-codes.js';

/** Flags of `ws-ceiling history --regions`. */
export interface RegionsHistoryFlags {
  regions: string;
  targetId?: string;
  limit: number;
  json?: boolean;
  deployment?: string;
}

/** Flags of `ws-ceiling compare --target-id X --regions a,b`. */
export interface RegionsCompareFlags {
  regions: string;
  targetId?: string;
  json?: boolean;
  deployment?: string;
}

/** Lists the runs of every region of `--regions` in one listing, newest first; returns the exit code. */
export async function regionsHistoryCommand(
  flags: RegionsHistoryFlags,
  io: TextIo,
  deps: Pick<DeployedDeps, 'clientsFor'> = DEFAULT_DEPLOYED_DEPS,
): Promise<number> {
  const regions = parseRegions(flags.regions);
  const names = parseDeployment(flags.deployment);
  const targetId = flags.targetId === undefined ? undefined : parseTargetId(flags.targetId);
  const perRegion = await Promise.all(
    regions.map((region) =>
      readRuns(region, names, deps, (store) =>
        targetId === undefined ? store.recentRuns(flags.limit) : store.latestRuns(targetId, flags.limit),
      ),
    ),
  );
  const runs = perRegion
    .flat()
    .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0))
    .slice(0, flags.limit * regions.length);
  if (flags.json) io.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
  else io.stdout.write(`${describeRegionsHistory(runs, regions)}\n`);
  return EXIT_CODES.completed;
}

/** Puts the latest run of `--target-id` in each region of `--regions` side by side; returns the exit code. */
export async function regionsCompareCommand(
  flags: RegionsCompareFlags,
  io: TextIo,
  deps: Pick<DeployedDeps, 'clientsFor'> = DEFAULT_DEPLOYED_DEPS,
): Promise<number> {
  const regions = parseRegions(flags.regions);
  const names = parseDeployment(flags.deployment);
  if (flags.targetId === undefined) {
    throw new InvalidInputError(
      '--target-id',
      'is required with --regions: the target whose latest run in each region is compared',
    );
  }
  const targetId = parseTargetId(flags.targetId);
  const latest = await Promise.all(
    regions.map(async (region) => {
      const [run] = await readRuns(region, names, deps, (store) => store.latestRuns(targetId, 1));
      return { region, run };
    }),
  );
  if (flags.json) {
    const regions = latest.map(({ region, run }) => ({ region, run: run ?? null }));
    io.stdout.write(`${JSON.stringify({ targetId, regions }, null, 2)}\n`);
  } else io.stdout.write(`${describeRegionsComparison(targetId, latest)}\n`);
  return EXIT_CODES.completed;
}

/** Reads runs from the runs table of `region` with `read`. */
async function readRuns(
  region: string,
  names: ResourceNames,
  deps: Pick<DeployedDeps, 'clientsFor'>,
  read: (store: DynamoRunStore) => Promise<RunResult[]>,
): Promise<RunResult[]> {
  return withClients(region, deps, (clients) =>
    awsCall(`read the runs table ${names.runsTable}`, region, () =>
      read(new DynamoRunStore({ client: clients.dynamo, tableName: names.runsTable })),
    ),
  );
}

/** The runs of several regions as one table, with a region column. */
function describeRegionsHistory(runs: readonly RunResult[], regions: readonly string[]): string {
  if (runs.length === 0) return `No runs stored in ${regions.join(', ')} yet.`;
  const header = [
    'started (UTC)',
    'region',
    'target',
    'verdict',
    'ceiling',
    'baseline',
    'ratio',
    'drops at',
    'cause',
    'run id',
  ];
  const rows = runs.map((run) => [
    run.startedAt.replace('T', ' ').slice(0, 19),
    run.region,
    run.targetId,
    run.verdict,
    formatCeiling(run.ceiling),
    run.baseline === null ? NONE : String(run.baseline.value),
    run.baseline?.ratio === null || run.baseline === null ? NONE : formatPercent(run.baseline.ratio),
    run.dropOnset === null ? NONE : String(run.dropOnset),
    run.limitingFactor?.kind ?? NONE,
    run.runId,
  ]);
  return aligned([header, ...rows]);
}

/** The latest run of a target in each region, one column per region. */
function describeRegionsComparison(
  targetId: string,
  latest: ReadonlyArray<{ region: string; run: RunResult | undefined }>,
): string {
  const facts: Array<[string, (run: RunResult) => string]> = [
    ['started (UTC)', (run) => run.startedAt.replace('T', ' ').slice(0, 19)],
    ['verdict', (run) => run.verdict],
    ['ceiling', (run) => formatCeiling(run.ceiling)],
    [
      'baseline',
      (run) => (run.baseline === null ? NONE : `${run.baseline.value} (median of ${run.baseline.runs} runs)`),
    ],
    [
      'ratio',
      (run) => (run.baseline?.ratio === null || run.baseline === null ? NONE : formatPercent(run.baseline.ratio)),
    ],
    ['floor', (run) => (run.settings.minCeiling === undefined ? NONE : String(run.settings.minCeiling))],
    ['drops at', (run) => (run.dropOnset === null ? NONE : String(run.dropOnset))],
    ['cause', (run) => run.limitingFactor?.kind ?? NONE],
    ['run id', (run) => run.runId],
  ];
  const header = ['', ...latest.map(({ region }) => region)];
  const rows = facts.map(([name, value]) => [name, ...latest.map(({ run }) => (run ? value(run) : 'no run'))]);
  const causes = latest.flatMap(({ region, run }) => (run ? [`${region}: ${describeCause(run)}`] : []));
  return [`${targetId}: the latest run in each region`, '', aligned([header, ...rows]), '', ...causes].join('\n');
}

/** Rows as columns padded to their widest cell, two spaces apart. */
function aligned(rows: readonly string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
