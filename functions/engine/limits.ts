/**
 * Hard bounds of ws-ceiling, shared by the run flags and the config file:
 * whatever a user asks for, a plan above these is refused. They keep a typo
 * from turning a probe into an attack on someone's production.
 */

/** Highest `maxConnections` (safety cap) accepted: one run cannot honestly hold more. */
export const HARD_MAX_CONNECTIONS = 100_000;

/** Highest connect rate accepted, new connections per second (all shards together). */
export const HARD_MAX_RATE = 2_000;

/** Most earlier runs a baseline may be the median of. */
export const MAX_BASELINE_RUNS = 100;
