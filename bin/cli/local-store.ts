/**
 * Opens the local run store: the embedded DynamoDB-compatible server persisted
 * under the store directory, behind the same DynamoDB adapter the deployed
 * record step uses. `run` creates the store; the commands that only read it
 * (history, report, compare) refuse a directory that holds none, so a
 * mistyped --store is named instead of answered from a new empty store.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import { EMBEDDED_DATA_DIRECTORY, startEmbeddedDynamo } from '../../functions/adapters/embedded-dynamo.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
import type { RunStore } from '../../functions/engine/run-store.js';

/** Name of the runs table in the local store. */
const LOCAL_RUNS_TABLE = 'ws-ceiling-runs';

/** An open local store; `close()` stops the embedded server. */
export interface LocalStore {
  store: RunStore;
  close(): Promise<void>;
}

/** How to open the store: `existing` refuses a directory that holds no store yet (read-only commands). */
export interface OpenLocalStoreOptions {
  existing?: boolean;
}

/**
 * Starts the embedded store in `directory` and makes sure the runs table
 * exists. With `existing`, throws an InvalidInputError naming `--store` and
 * the path when the directory does not exist or holds no store.
 */
export async function openLocalStore(directory: string, options: OpenLocalStoreOptions = {}): Promise<LocalStore> {
  if (options.existing) await checkStoreExists(directory);
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

async function checkStoreExists(directory: string): Promise<void> {
  const found = await stat(directory).catch(() => undefined);
  if (!found) {
    throw new InvalidInputError(
      '--store',
      `no run store at "${directory}": the directory does not exist (ws-ceiling run creates it; check the path)`,
    );
  }
  if (!found.isDirectory()) throw new InvalidInputError('--store', `"${directory}" is not a directory`);
  if (!(await stat(path.join(directory, EMBEDDED_DATA_DIRECTORY)).catch(() => undefined))?.isDirectory()) {
    throw new InvalidInputError(
      '--store',
      `no run store at "${directory}": the directory holds no ws-ceiling runs (ws-ceiling run creates them; ` +
        'check the path)',
    );
  }
}
