/**
 * `ws-ceiling history --region R`: the runs of a deployed region, read from
 * its runs table (`RUNS_TABLE_NAME`) with the same store adapter and the same
 * listing as the local history.
 */
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import { createDeployedClients, destroyDeployedClients, type DeployedClientsFactory } from '../../functions/adapters/deployed-clients.js';
import { RUNS_TABLE_NAME } from '../../functions/engine/deployment-names.js';
import type { RunStore } from '../../functions/engine/run-store.js';
import { DEFAULT_DEPLOYED_DEPS, parseRegion, parseTargetId, type DeployedDeps, type TextIo } from './deployed-common.js';
import { EXIT_CODES } from './exit-codes.js';
import { describeHistory } from './summary.js';

/** An open deployed store; `close()` releases its client. */
export interface DeployedRunStore {
  store: RunStore;
  close(): Promise<void>;
}

/** What to list and how. */
export interface HistoryListing {
  targetId?: string;
  limit: number;
  json?: boolean;
}

/** Flags of `ws-ceiling history --region`. */
export interface DeployedHistoryFlags extends HistoryListing {
  region: string;
}

/** The run store on the deployed runs table of `region`. */
export function openDeployedRunStore(region: string, clientsFor: DeployedClientsFactory = createDeployedClients): DeployedRunStore {
  const clients = clientsFor(region);
  return {
    store: new DynamoRunStore({ client: clients.dynamo, tableName: RUNS_TABLE_NAME }),
    close: async () => destroyDeployedClients(clients),
  };
}

/**
 * Prints the runs of one target (a Query) or of every target (a Scan),
 * newest first, as a table or JSON; returns the exit code. Shared by the
 * local and the deployed history.
 */
export async function printHistory(store: RunStore, listing: HistoryListing, io: TextIo): Promise<number> {
  const runs = listing.targetId ? await store.latestRuns(listing.targetId, listing.limit) : await store.recentRuns(listing.limit);
  io.stdout.write(listing.json ? `${JSON.stringify(runs, null, 2)}\n` : `${describeHistory(runs)}\n`);
  return EXIT_CODES.completed;
}

/** Lists the runs stored in the deployed runs table of `--region`; returns the exit code. */
export async function deployedHistoryCommand(flags: DeployedHistoryFlags, io: TextIo, deps: Pick<DeployedDeps, 'clientsFor'> = DEFAULT_DEPLOYED_DEPS): Promise<number> {
  const region = parseRegion(flags.region);
  const listing = { ...flags, ...(flags.targetId !== undefined ? { targetId: parseTargetId(flags.targetId) } : {}) };
  const deployed = openDeployedRunStore(region, deps.clientsFor);
  try {
    return await printHistory(deployed.store, listing, io);
  } finally {
    await deployed.close();
  }
}
