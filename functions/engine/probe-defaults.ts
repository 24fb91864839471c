/**
 * The probe's default settings, in one place: `ws-ceiling run` shows them as
 * its flag defaults (bin/cli/run-options.ts) and the config file fills them
 * into every target that leaves them out (functions/config/target-config.ts),
 * so a local run and a deployed one probe alike unless told otherwise.
 * The shard size default is DEFAULT_SHARD_SIZE (plan.ts).
 */

/** Default stages, plan, heartbeat and safety cap of a probe. */
export const PROBE_DEFAULTS = {
  /** The stage range used when neither stages nor all of start/step/max are given. */
  range: { start: 50, step: 50, max: 500 },
  holdSeconds: 60,
  connectRate: 50,
  maxInFlight: 100,
  handshakeTimeoutSeconds: 10,
  /** Seconds between pings or application heartbeat messages. */
  heartbeatIntervalSeconds: 20,
  pongTimeoutSeconds: 10,
  maxConnections: 2000,
} as const;
