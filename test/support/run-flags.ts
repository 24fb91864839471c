/**
 * The raw run flags as commander hands them over when a user gives none but the URL: the start of every test of
 * parseRunFlags, which spreads its own flags over them.
 */
import type { RawRunFlags } from '../../bin/cli/run-options.js';

/** Every run flag at its default, as strings (commander's form). */
export const DEFAULT_RUN_FLAGS: RawRunFlags = {
  hold: '60',
  rate: '50',
  maxInFlight: '100',
  handshakeTimeout: '10',
  ping: '20',
  pongTimeout: '10',
  header: [],
  subprotocol: [],
  tolerance: '0',
  maxConnections: '2000',
  shardSize: '900',
};
