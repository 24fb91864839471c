/**
 * Opens the local run store: the embedded DynamoDB-compatible server persisted
 * under the store directory, behind the same DynamoDB adapter the deployed
 * record step uses.
 */
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import { startEmbeddedDynamo } from '../../functions/adapters/embedded-dynamo.js';
import type { RunStore } from '../../functions/engine/run-store.js';

/** Name of the runs table in the local store. */
export const LOCAL_RUNS_TABLE = 'ws-ceiling-runs';

/** An open local store; `close()` stops the embedded server. */
export interface LocalStore {
  store: RunStore;
  close(): Promise<void>;
}

/** Starts the embedded store in `directory` and makes sure the runs table exists. */
export async function openLocalStore(directory: string): Promise<LocalStore> {
  const embedded = await startEmbeddedDynamo({ directory });
  try {
    const store = new DynamoRunStore({ client: embedded.client, tableName: LOCAL_RUNS_TABLE });
    await store.ensureTable();
    return { store, close: () => embedded.stop() };
  } catch (error) {
    await embedded.stop();
    throw error;
  }
}
