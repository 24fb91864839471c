/**
 * The embedded run store: a DynamoDB-compatible server (dynalite) listening on
 * loopback and persisted in LevelDB under a directory, with a DynamoDB client
 * pointed at it. The CLI keeps its run history here through the same DynamoDB
 * adapter the deployed stack uses against real DynamoDB.
 *
 * One process at a time may use a store directory. LevelDB locks its files,
 * but dynalite opens its database lazily and, when that open fails, crashes
 * the process on the first request. So before starting dynalite this module
 * takes a lock of its own (a small LevelDB under `<dir>/lock`, held until
 * `stop()`, released by the OS if the process dies) and checks that the data
 * directory opens, turning a held lock into a clear {@link StoreError}. It
 * then reads every entry once, so a corrupt store is named, with the fix,
 * before anything else happens. While the store runs, a LevelDB error that
 * dynalite throws from a callback (`if (err) throw err`: a disk that fills,
 * a file corrupted meanwhile) fails the requests in flight instead of ending
 * the process; {@link EmbeddedDynamo.failure} says what it was.
 */
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { Level } from 'level';
import { StoreError } from '../engine/errors.js';

/** A running embedded store. */
export interface EmbeddedDynamo {
  /** `http://127.0.0.1:<port>` of the embedded server. */
  endpoint: string;
  /** A client for the embedded server with dummy credentials. */
  client: DynamoDBClient;
  /** Stops the client and the server and closes the database; safe to call twice. */
  stop(): Promise<void>;
  /** The LevelDB error that failed a request while the store ran, if one did. */
  failure(): Error | undefined;
}

/** Where the embedded store keeps its data. */
export interface EmbeddedDynamoOptions {
  /** Store directory, created if missing; the data lives in `<directory>/dynamodb`. */
  directory: string;
}

/** The part of a LevelDB handle the lock uses (the same `level` major as dynalite's, deduplicated by npm). */
type LevelDatabase = Pick<Level, 'open' | 'close'>;

/**
 * Folder inside a store directory where the embedded server keeps its data; present once a store has been opened there.
 */
export const EMBEDDED_DATA_DIRECTORY = 'dynamodb';

/** Longest a request to the embedded server may take: a scan of thousands of stored runs takes a few seconds. */
const LOCAL_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Starts the embedded store in `options.directory` on 127.0.0.1 (a free port).
 * Throws {@link StoreError} when another process uses the directory or the
 * store cannot start.
 */
export async function startEmbeddedDynamo(options: EmbeddedDynamoOptions): Promise<EmbeddedDynamo> {
  const directory = path.resolve(options.directory);
  await createDirectory(directory);
  const lock = await openLevel(path.join(directory, 'lock'), directory);
  try {
    const dataPath = path.join(directory, EMBEDDED_DATA_DIRECTORY);
    await checkReadable(await openLevel(dataPath, directory), directory);
    const server = dynalite({ path: dataPath, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    const endpoint = await listenOnLoopback(server, directory);
    const client = createLocalClient(endpoint);
    const guarded = guardLevelErrors(server);
    const stop = once(async () => {
      guarded.release();
      await shutdown(client, server, lock, directory);
    });
    return { endpoint, client, stop, failure: () => guarded.failure };
  } catch (error) {
    await lock.close();
    throw error;
  }
}

/** What to do about a store that cannot be read. */
function corruptStoreFix(directory: string): string {
  return (
    `Fix: move it aside (mv ${directory} ${directory}.broken) and run again to start a new store, or restore ` +
    'the directory from a backup'
  );
}

/**
 * Reads every entry of the opened data database once (values decoded as
 * dynalite stores them, JSON), then closes it: a corrupt block or value is a
 * StoreError naming the store and the fix, instead of a crash on the first
 * request that reaches it.
 */
async function checkReadable(database: Level<string, unknown>, directory: string): Promise<void> {
  try {
    for await (const entry of database.iterator({ valueEncoding: 'json', fillCache: false })) void entry;
  } catch (error) {
    throw new StoreError(
      `the store at ${directory} cannot be read: ${messageOf(error)}. ${corruptStoreFix(directory)}`,
      {
        cause: error,
      },
    );
  } finally {
    await database.close();
  }
}

/** Embedded servers running in this process, and the LevelDB error that failed one, if any. */
const guardedServers = new Set<{ server: Server; failure: Error | undefined }>();

/**
 * A LevelDB error dynalite threw from a callback: the process's uncaught
 * exception, seen here while embedded stores run. It fails their requests
 * in flight (the connections close, the client's call fails) and is kept
 * as the store's failure. Any other error ends the process as it would
 * have, unless something else (a test runner) handles uncaught exceptions.
 */
function onUncaughtException(error: Error): void {
  const code = codeOf(error);
  if (typeof code === 'string' && code.startsWith('LEVEL_')) {
    for (const guarded of guardedServers) {
      guarded.failure ??= error;
      guarded.server.closeAllConnections();
    }
    return;
  }
  if (process.listenerCount('uncaughtException') > 1) return;
  process.removeListener('uncaughtException', onUncaughtException);
  setImmediate(() => {
    throw error;
  });
}

/** Guards `server` against the LevelDB errors dynalite throws until `release()`. */
function guardLevelErrors(server: Server): { readonly failure: Error | undefined; release(): void } {
  const guarded = { server, failure: undefined as Error | undefined };
  if (guardedServers.size === 0) process.on('uncaughtException', onUncaughtException);
  guardedServers.add(guarded);
  return {
    get failure() {
      return guarded.failure;
    },
    release() {
      guardedServers.delete(guarded);
      if (guardedServers.size === 0) process.removeListener('uncaughtException', onUncaughtException);
    },
  };
}

/** Creates the store directory and its parents. */
async function createDirectory(directory: string): Promise<void> {
  try {
    await mkdir(directory, { recursive: true });
  } catch (error) {
    throw new StoreError(`cannot create the store directory ${directory}: ${messageOf(error)}`, { cause: error });
  }
}

/** Opens a LevelDB, telling a lock held by another process apart from other failures. */
async function openLevel(location: string, directory: string): Promise<Level<string, unknown>> {
  const database = new Level<string, unknown>(location);
  try {
    await database.open();
    return database;
  } catch (error) {
    if (isLockedError(error)) {
      throw new StoreError(
        `the store at ${directory} is in use by another ws-ceiling process; wait for it or pass --store <other dir>`,
        { cause: error },
      );
    }
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
    throw new StoreError(
      `cannot open the store at ${directory}: ${messageOf(error)}${cause}. ${corruptStoreFix(directory)}`,
      { cause: error },
    );
  }
}

/**
 * True for LevelDB's "lock held" failure: `open()` rejects with code
 * `LEVEL_DATABASE_NOT_OPEN` whose cause has code `LEVEL_LOCKED` ("IO error:
 * lock …/LOCK: already held by process" in the same process, "Resource
 * temporarily unavailable" from another one).
 */
function isLockedError(error: unknown): boolean {
  return codeOf(error) === 'LEVEL_LOCKED' || (error instanceof Error && codeOf(error.cause) === 'LEVEL_LOCKED');
}

/** The `code` property of an error-like value. */
function codeOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null && 'code' in value ? value.code : undefined;
}

/** Starts listening on 127.0.0.1 on a free port and returns the endpoint URL. */
function listenOnLoopback(server: Server, directory: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      reject(new StoreError(`cannot start the store at ${directory}: ${error.message}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', onError);
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
}

/** A DynamoDB client for the embedded server that never reads real credentials. */
function createLocalClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
    // A request dynalite never answers (it failed while holding an item lock) fails instead of hanging.
    requestHandler: { requestTimeout: LOCAL_REQUEST_TIMEOUT_MS },
  });
}

/** Destroys the client, closes the server and its database, then releases the directory lock. */
async function shutdown(client: DynamoDBClient, server: Server, lock: LevelDatabase, directory: string): Promise<void> {
  client.destroy();
  try {
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  } catch (error) {
    throw new StoreError(`cannot stop the store at ${directory}: ${messageOf(error)}`, { cause: error });
  } finally {
    await lock.close();
  }
}

/** Wraps an async action so that it runs once; later calls get the first call's promise. */
function once(action: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= action());
}

/** The message of an error, or the value as text. */
function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
