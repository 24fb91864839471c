/**
 * The probe's version, stored with every run so results from different probe
 * builds can be told apart. Kept equal to package.json's version by a test.
 */

/** Version of the probe that produced a run. */
export const PROBE_VERSION = '0.1.0';
