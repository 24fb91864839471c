/**
 * Opens the local run store: the embedded DynamoDB-compatible server persisted
 * under the store directory, behind the same DynamoDB adapter the deployed
 * record step uses. `run` creates the store; the commands that only read it
 * (history, report, compare) refuse a directory that holds none, so a
 * mistyped --store is named instead of answered from a new empty store.
 * A --store that cannot be a directory (empty, a file, under /proc, /sys or
 * /dev) is bad input; a store that cannot be read is a StoreError naming the
 * path and the fix (embedded-dynamo.ts checks it as it opens).
 */
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import { EMBEDDED_DATA_DIRECTORY, startEmbeddedDynamo } from '../../functions/adapters/embedded-dynamo.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
import type { RunStore } from '../../functions/engine/run-store.js';

/** Name of the runs table in the local store. */
export const LOCAL_RUNS_TABLE = 'ws-ceiling-runs';

/** An open local store; `close()` stops the embedded server. */
export interface LocalStore {
  store: RunStore;
  /** The store directory, resolved. */
  directory: string;
  /** The LevelDB error that failed a request while the store ran, if one did. */
  failure(): Error | undefined;
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
  const resolved = checkStorePath(directory);
  if (options.existing) await checkStoreExists(directory);
  else await createStoreDirectory(resolved);
  const embedded = await startEmbeddedDynamo({ directory: resolved });
  try {
    const store = new DynamoRunStore({ client: embedded.client, tableName: LOCAL_RUNS_TABLE });
    await store.ensureTable();
    return { store, directory: resolved, failure: () => embedded.failure(), close: () => embedded.stop() };
  } catch (error) {
    await embedded.stop();
    throw error;
  }
}

/** Pseudo-filesystems that hold no ordinary files: a store cannot live under them. */
const VIRTUAL_FILESYSTEMS = ['/proc', '/sys', '/dev'];

/** The resolved store directory; throws an InvalidInputError naming --store for one that can never be a store. */
function checkStorePath(directory: string): string {
  if (directory.trim() === '') throw new InvalidInputError('--store', 'must name a directory, got an empty string');
  const resolved = path.resolve(directory);
  const virtual = VIRTUAL_FILESYSTEMS.find((root) => resolved === root || resolved.startsWith(`${root}/`));
  if (virtual !== undefined) {
    throw new InvalidInputError(
      '--store',
      `"${directory}" is under ${virtual}, a virtual filesystem that cannot hold a store; give a directory on disk`,
    );
  }
  return resolved;
}

/**
 * Creates the store directory and any missing parents one level at a time
 * (a recursive mkdir can spin on an odd filesystem). Throws an
 * InvalidInputError naming --store when a part of the path is a file or
 * cannot be created.
 */
async function createStoreDirectory(directory: string): Promise<void> {
  const missing: string[] = [];
  let existing = directory;
  let found = await stat(existing).catch(() => undefined);
  while (!found && path.dirname(existing) !== existing) {
    missing.unshift(existing);
    existing = path.dirname(existing);
    found = await stat(existing).catch(() => undefined);
  }
  if (found && !found.isDirectory()) {
    const what = existing === directory ? `"${directory}" is a file` : `"${existing}" is a file, not a directory`;
    throw new InvalidInputError('--store', `${what}; give a directory for the store`);
  }
  for (const level of missing) {
    try {
      await mkdir(level);
    } catch (error) {
      const { code, message } = error as NodeJS.ErrnoException;
      if (code === 'EEXIST') continue;
      throw new InvalidInputError('--store', `cannot create the directory "${level}": ${message}`);
    }
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
