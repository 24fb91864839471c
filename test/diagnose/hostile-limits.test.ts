// Tests of diagnose against limits that are not a plain cap or token bucket, each on the bundled simulator: a cap with
// a queue that holds upgrades and then refuses them, fixed and sliding windows ("N upgrades per W seconds"), and a
// rate limit in front of a cap. None may end in a false exact ceiling.
import { afterEach, describe, expect, it } from 'vitest';
import { diagnoseRun } from '../../functions/diagnose/diagnose.js';
import type { Finding } from '../../functions/diagnose/findings.js';
import {
  startTargetSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../functions/simulator/target-simulator.js';
import { diagnoseDependencies, rampAgainst } from '../support/diagnose-ramp.js';

const simulators: RunningSimulator[] = [];
afterEach(async () => {
  await Promise.all(simulators.splice(0).map((simulator) => simulator.stop()));
});

async function simulator(options: SimulatorOptions): Promise<RunningSimulator> {
  const running = await startTargetSimulator(options);
  simulators.push(running);
  return running;
}

const describeFindings = (findings: readonly Finding[]): string => findings.map((f) => f.sentence).join('\n');

describe('diagnose against hostile limits', () => {
  it('reports a cap whose queue holds upgrades 0.4 s, then refuses them, as a cap with a queue', async () => {
    const target = await simulator({
      cap: { limit: 10, response: { kind: 'status', status: 503, queueSeconds: 0.4 } },
    });
    const ramp = await rampAgainst(target.url, { stages: [5, 15], connectRate: 100, holdSeconds: 0.6 });
    const diagnosis = await diagnoseRun(ramp, diagnoseDependencies(), { resolution: 1, budgetSeconds: 60 });
    const [cap, exact] = diagnosis.findings;
    expect(
      diagnosis.findings.map((finding) => finding.kind),
      describeFindings(diagnosis.findings),
    ).toEqual(['concurrency-cap', 'exact-ceiling']);
    expect(diagnosis.verdict).toBe('explained');
    expect(cap).toMatchObject({ values: { count: 10, queueSeconds: 0.4 } });
    expect(cap?.evidence.note).toMatch(/^Every refused upgrade waited 0\.4\d–0\.4\d s for its answer/);
    expect(exact).toMatchObject({ values: { value: 10, failsAt: 11 } });
  });

  it.each([
    // Honouring a Retry-After of whole seconds reads a short window up to a second long; probing, to a few per cent.
    ['fixed', 'the seconds until it frees', { kind: 'fixed', count: 10, seconds: 1 }, [1, 2]],
    ['sliding', '0', { kind: 'sliding', count: 10, seconds: 1, retryAfterSeconds: 0 }, [0.93, 1.07]],
  ] as const)(
    'reports a %s window of 10 upgrades per 1 s (Retry-After %s) as a handshake rate limit with its window, ' +
      'never a ceiling',
    async (_kind, _retryAfter, window, secondsWithin) => {
      const target = await simulator({ window });
      const ramp = await rampAgainst(target.url, { stages: [5, 20], connectRate: 100, holdSeconds: 0.2 });
      const diagnosis = await diagnoseRun(ramp, diagnoseDependencies(), { resolution: 1, budgetSeconds: 60 });
      const kinds = diagnosis.findings.map((finding) => [finding.kind, finding.experiment]);
      expect(kinds, describeFindings(diagnosis.findings)).toEqual([
        ['handshake-rate-limit', 'rate-or-count'],
        ['no-limit', 'under-rate-limit'],
      ]);
      const limit = diagnosis.findings[0];
      if (limit?.kind !== 'handshake-rate-limit') throw new Error('expected a rate limit');
      expect(limit.values.window?.count, limit.sentence).toBe(10);
      expect(limit.values.window?.seconds, limit.sentence).toBeGreaterThanOrEqual(secondsWithin[0]);
      expect(limit.values.window?.seconds, limit.sentence).toBeLessThanOrEqual(secondsWithin[1]);
      expect(limit.values.perSecond).toBeCloseTo(10 / (limit.values.window?.seconds ?? 1), 1);
      expect(limit.sentence).toMatch(/^Handshake rate limit of 10 upgrades per [\d.]+ s, counted in a window/);
      expect(diagnosis.verdict).toBe('explained');
    },
  );

  it('ramps again under a rate limit at 90 % of its measured rate and finds the cap behind it', async () => {
    const target = await simulator({
      rateLimit: { perSecond: 20, burst: 10, retryAfterSeconds: 1 },
      cap: { limit: 30, response: { kind: 'status', status: 503 } },
    });
    const ramp = await rampAgainst(target.url, { stages: [15, 40], connectRate: 60, holdSeconds: 0.3 });
    const diagnosis = await diagnoseRun(ramp, diagnoseDependencies(), { resolution: 1, budgetSeconds: 60 });
    expect(diagnosis.findings.map((finding) => [finding.kind, finding.experiment])).toEqual([
      ['handshake-rate-limit', 'rate-or-count'],
      ['concurrency-cap', 'under-rate-limit'],
    ]);
    const [limit, cap] = diagnosis.findings;
    if (limit?.kind !== 'handshake-rate-limit' || cap?.kind !== 'concurrency-cap') throw new Error('unexpected');
    expect(Math.abs((limit.values.perSecond ?? 0) / 20 - 1), limit.sentence).toBeLessThanOrEqual(0.1);
    expect(limit.evidence.statuses).toEqual({ '429': expect.any(Number) as unknown });
    expect(cap.values).toEqual({ count: 30, rates: [Math.floor((limit.values.perSecond ?? 0) * 9) / 10] });
    expect(cap.sentence).toMatch(/^Behind the rate limit, ramped at [\d.]+\/s: concurrency cap at 30 \(HTTP 503/);
    expect(diagnosis.verdict).toBe('explained');
  });
});
