import { describe, expect, it } from 'vitest';
import type { ClientMeasurement } from '../../bench/measure.js';
import type { BenchOptions } from '../../bench/options.js';
import { formatSummary, summarize } from '../../bench/report.js';

const budget = { limitTarget: 18_981, bound: 'descriptors', limit: 20_000, processes: 1, sourceAddresses: 1 } as const;

const options: BenchOptions = {
  repeat: 2,
  connections: 200,
  budget,
  processes: 1,
  sourceAddresses: [],
  processesBudget: budget,
  connectRate: 100_000,
  maxInFlight: 100,
  holdSeconds: 1,
  pingSeconds: 0.5,
  handshakeTimeoutSeconds: 10,
  rampTimeoutSeconds: 30,
};

function measurement(overrides: Partial<ClientMeasurement> = {}): ClientMeasurement {
  return {
    connections: 200,
    opened: 200,
    heldAtEnd: 200,
    falseDrops: 0,
    byReason: {},
    rampSettled: true,
    rampSeconds: 0.2,
    handshakesPerSecond: 1000,
    cpuMicrosPerHandshake: 600,
    rssMiBPerThousand: 6,
    loopDelayP99Ms: 10.5,
    rampStartedAt: 1_000,
    rampEndedAt: 1_200,
    cpuMicros: 120_000,
    rssHeldBytes: 1.2 * 1024 * 1024,
    ...overrides,
  };
}

function lines(probe: ClientMeasurement[], plain: ClientMeasurement[]): string[] {
  return formatSummary(summarize(probe, plain, options), options).split('\n');
}

describe('formatSummary', () => {
  it('says "held N with 0 false drops" only when every run was clean', () => {
    expect(
      formatSummary(summarize([measurement()], [measurement()], { ...options, repeat: 1 }), options).split('\n'),
    ).toContain('Probe: held 200 with 0 false drops in the one run.');
    expect(lines([measurement(), measurement()], [measurement(), measurement()])).toEqual(
      expect.arrayContaining([
        'Probe: held 200 with 0 false drops in each of the 2 runs.',
        'Plain ws: held 200 with 0 false drops in each of the 2 runs.',
      ]),
    );
  });

  it('counts the clean runs and the false drops when a run had some, never claiming 0 false drops', () => {
    const dropped = measurement({ heldAtEnd: 197, falseDrops: 3, byReason: { ECONNRESET: 2, 'pong-timeout': 1 } });
    const output = lines(
      [measurement(), dropped],
      [measurement(), measurement({ rampSettled: false, heldAtEnd: 150 })],
    );
    expect(output).toContain(
      'Probe: held all 200 with no false drop in 1 of 2 runs; 3 false drops in all (ECONNRESET × 2, pong-timeout × 1).',
    );
    expect(output).toContain(
      'Plain ws: held all 200 with no false drop in 1 of 2 runs; 0 false drops in all; the ramp did not finish ' +
        'within 30 s in 1.',
    );
  });
});
