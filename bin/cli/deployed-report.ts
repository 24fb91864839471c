/**
 * `ws-ceiling report <runId|latest> --region R`: writes a deployed run as the
 * same self-contained HTML report as a local one, read from the runs table
 * of that region (with the earlier runs of its target for the trend), and
 * prints the path it wrote. A run is named as locally: its id, a unique
 * start of it, `latest` or `previous` (of `--target-id` when given; across
 * targets through the table's recent-runs index).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import { attemptWrite, checkOutputPath } from '../../functions/report/ci-outputs.js';
import { renderHtmlReport } from '../../functions/report/html-report.js';
import {
  awsCall,
  DEFAULT_DEPLOYED_DEPS,
  parseDeployment,
  parseRegion,
  parseTargetId,
  withClients,
  type DeployedDeps,
} from './deployed-common.js';
import { EXIT_CODES } from './exit-codes.js';
import { findRun, storedRuns } from './run-lookup.js';

/** Flags of `ws-ceiling report --region`. */
export interface DeployedReportFlags {
  region: string;
  targetId?: string;
  out?: string;
  deployment?: string;
}

/** Most runs of the target shown in the report's history trend, this one included. */
const REPORT_HISTORY_RUNS = 20;

/** Writes the report of the deployed run `name` and returns the exit code; bad input throws InvalidInputError. */
export async function deployedReportCommand(
  name: string,
  flags: DeployedReportFlags,
  io: { stdout: { write(text: string): unknown } },
  deps: Pick<DeployedDeps, 'clientsFor'> = DEFAULT_DEPLOYED_DEPS,
): Promise<number> {
  const region = parseRegion(flags.region);
  const names = parseDeployment(flags.deployment);
  const targetId = flags.targetId === undefined ? undefined : parseTargetId(flags.targetId);
  if (flags.out !== undefined) await checkOutputPath('--out', flags.out);
  const { run, history } = await withClients(region, deps, (clients) =>
    awsCall(`read the runs table ${names.runsTable}`, region, async () => {
      const store = new DynamoRunStore({ client: clients.dynamo, tableName: names.runsTable });
      const scope = { ...(targetId !== undefined ? { targetId } : {}), store: `${names.runsTable} in ${region}` };
      const found = findRun(await storedRuns(store, targetId), name, '<run>', scope);
      const earlier = await store.latestRuns(found.targetId, REPORT_HISTORY_RUNS);
      return { run: found, history: earlier.filter((candidate) => candidate.startedAt <= found.startedAt) };
    }),
  );
  const file = path.resolve(flags.out ?? `ws-ceiling-report-${run.runId}.html`);
  const report = renderHtmlReport(run, { generatedAt: new Date().toISOString(), history });
  await attemptWrite('--out', flags.out ?? file, () => writeFile(file, report));
  io.stdout.write(`${file}\n`);
  return EXIT_CODES.completed;
}
