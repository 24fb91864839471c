/**
 * Minimal types for dynalite 4 (it ships none): only what the embedded run
 * store uses. dynalite returns a plain Node HTTP server whose `close()` also
 * closes its LevelDB.
 */
declare module 'dynalite' {
  import type { Server } from 'node:http';

  /** Options of the embedded DynamoDB-compatible server. */
  interface DynaliteOptions {
    /** LevelDB directory; in memory when omitted. */
    path?: string;
    /** Milliseconds a table stays CREATING (default 500). */
    createTableMs?: number;
    /** Milliseconds a table stays DELETING (default 500). */
    deleteTableMs?: number;
    /** Milliseconds a table stays UPDATING (default 500). */
    updateTableMs?: number;
  }

  /** Creates a DynamoDB-compatible HTTP server that is not listening yet. */
  function dynalite(options?: DynaliteOptions): Server;

  export = dynalite;
}
