/**
 * `ws-ceiling history --region R`: the runs of a deployed region, read from
 * its runs table (the deployment's `runsTable` name) with the same store
 * adapter and the same listing as the local history. With `--regions a,b`
 * the runs of several regions in one listing, newest first, each with its
 * region (bin/cli/deployed-regions.ts).
 */
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import {
  DEFAULT_DEPLOYED_DEPS,
  parseDeployment,
  parseRegion,
  parseTargetId,
  withClients,
  type DeployedDeps,
  type TextIo,
} from './deployed-common.js';
import { printHistory, type HistoryListing } from './history-listing.js';

/** Flags of `ws-ceiling history --region`. */
export interface DeployedHistoryFlags extends HistoryListing {
  region: string;
  deployment?: string;
}

/** Lists the runs stored in the deployed runs table of `--region`; returns the exit code. */
export async function deployedHistoryCommand(
  flags: DeployedHistoryFlags,
  io: TextIo,
  deps: Pick<DeployedDeps, 'clientsFor'> = DEFAULT_DEPLOYED_DEPS,
): Promise<number> {
  const region = parseRegion(flags.region);
  const names = parseDeployment(flags.deployment);
  const listing = { ...flags, ...(flags.targetId !== undefined ? { targetId: parseTargetId(flags.targetId) } : {}) };
  return withClients(region, deps, (clients) =>
    printHistory(new DynamoRunStore({ client: clients.dynamo, tableName: names.runsTable }), listing, io),
  );
}
