/**
 * The report of `npm run bench -- --processes N`: the parts measured in each
 * process combine into one client's figures over one span, and the table
 * gives medians in one process and in N with their ratio, against the
 * targets (the handshake rate at least 0.8 × N, the N processes' budget held
 * with no false drop); one-process figures are "not measured" when one
 * process cannot hold the connections.
 */
import { describe, expect, it } from 'vitest';
import { combineMeasurements, type ClientMeasurement } from '../../bench/measure.js';
import type { BenchOptions } from '../../bench/options.js';
import { formatScaling, summarizeScaling } from '../../bench/scaling-report.js';

const MIB = 1024 * 1024;

const options: BenchOptions = {
  repeat: 1,
  connections: 20_000,
  budget: { limitTarget: 18_981, bound: 'descriptors', limit: 20_000, processes: 1, sourceAddresses: 1 },
  processes: 2,
  sourceAddresses: [],
  processesBudget: { limitTarget: 26_820, bound: 'ephemeral ports', limit: 28_232, processes: 2, sourceAddresses: 1 },
  connectRate: 100_000,
  maxInFlight: 100,
  holdSeconds: 10,
  pingSeconds: 5,
  handshakeTimeoutSeconds: 10,
  rampTimeoutSeconds: 210,
};

/** One process's part of a run: `opened` connections over its ramp, `cpuMs` of CPU, `rssMiB` more RSS held. */
function part(opened: number, startedAt: number, endedAt: number, cpuMs: number, rssMiB: number): ClientMeasurement {
  const seconds = (endedAt - startedAt) / 1000;
  return {
    connections: opened,
    opened,
    heldAtEnd: opened,
    falseDrops: 0,
    byReason: {},
    rampSettled: true,
    rampSeconds: seconds,
    handshakesPerSecond: opened / seconds,
    cpuMicrosPerHandshake: (cpuMs * 1000) / opened,
    rssMiBPerThousand: (rssMiB / opened) * 1000,
    loopDelayP99Ms: 12,
    rampStartedAt: startedAt,
    rampEndedAt: endedAt,
    cpuMicros: cpuMs * 1000,
    rssHeldBytes: rssMiB * MIB,
  };
}

describe('combineMeasurements', () => {
  it('measures the parts over one span, with the CPU and RSS of all of them and the worst loop delay', () => {
    const combined = combineMeasurements([
      part(10_000, 1_000, 6_000, 5_000, 60),
      { ...part(10_000, 1_100, 6_100, 5_400, 64), loopDelayP99Ms: 15, falseDrops: 1, byReason: { ECONNRESET: 1 } },
    ]);
    expect(combined).toMatchObject({
      connections: 20_000,
      opened: 20_000,
      heldAtEnd: 20_000,
      falseDrops: 1,
      byReason: { ECONNRESET: 1 },
      rampSettled: true,
      rampSeconds: 5.1,
      cpuMicrosPerHandshake: 520,
      rssMiBPerThousand: 6.2,
      loopDelayP99Ms: 15,
    });
    expect(combined.handshakesPerSecond).toBeCloseTo(20_000 / 5.1);
  });
});

describe('formatScaling', () => {
  it('gives medians in one process and in N with N/1, against the targets', () => {
    const one = [part(20_000, 0, 12_500, 10_000, 124)];
    const many = [combineMeasurements([part(10_000, 0, 3_500, 5_200, 62), part(10_000, 0, 3_600, 5_300, 63)])];
    const lines = formatScaling(summarizeScaling(one, many, options), options).split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        'figure (median)                                      1 process  2 processes    2/1',
        'handshakes per second while ramping                      1,600        5,556  3.47×',
        'probe CPU per handshake, all processes (µs)                500          525  1.05×',
        'RSS per 1,000 held connections, all processes (MiB)       6.20         6.25  1.01×',
        '1 process: held 20000 with 0 false drops in the one run.',
        '2 processes: held 20000 with 0 false drops in the one run.',
      ]),
    );
    expect(lines.find((line) => line.startsWith('handshake rate ≥ 1.6× one process'))).toMatch(/3\.47×\s+met$/);
    expect(lines.find((line) => line.startsWith('holds the ephemeral ports of 2 processes'))).toMatch(
      /\(26820\) with no false drops\s+1 of 1 runs clean at 20000\s+not measured$/,
    );
  });

  it('leaves the one-process figures out when one process cannot hold the connections', () => {
    const many = [combineMeasurements([part(15_000, 0, 5_000, 8_000, 93), part(15_000, 0, 5_000, 8_000, 93)])];
    const wide = { ...options, connections: 30_000 };
    const lines = formatScaling(summarizeScaling([], many, wide), wide).split('\n');
    expect(lines).toContain('1 process: not measured, as 30000 connections are more than one process holds (18981).');
    expect(lines.find((line) => line.startsWith('handshakes per second'))).toMatch(/–\s+6,000\s+–$/);
    expect(lines.find((line) => line.startsWith('handshake rate ≥ 1.6× one process'))).toMatch(/–\s+not measured$/);
    expect(lines.find((line) => line.startsWith('holds the ephemeral ports'))).toMatch(
      /1 of 1 runs clean at 30000\s+met$/,
    );
  });
});
