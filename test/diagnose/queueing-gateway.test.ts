import { afterEach, describe, expect, it } from 'vitest';
import { diagnoseRun } from '../../functions/diagnose/diagnose.js';
import { acceptQueueFinding, isUnanswered } from '../../functions/diagnose/queueing-gateway.js';
import type { ConnectionRecord } from '../../functions/engine/types.js';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';
import { diagnoseDependencies, rampAgainst } from '../support/diagnose-ramp.js';
import { refused, T0 } from '../support/records.js';

const simulators: RunningSimulator[] = [];
afterEach(async () => {
  await Promise.all(simulators.splice(0).map((simulator) => simulator.stop()));
});

describe('isUnanswered', () => {
  it('is true only for a handshake that connected over TCP and then timed out', () => {
    const timedOut: ConnectionRecord = {
      shard: 0,
      id: 1,
      stage: 0,
      attemptedAt: T0,
      tcpConnectedAt: T0 + 1,
      outcome: 'handshake-timeout',
      settledAt: T0 + 1000,
    };
    const { tcpConnectedAt: _connected, ...neverConnected } = timedOut;
    expect(isUnanswered(timedOut)).toBe(true);
    expect(isUnanswered(neverConnected)).toBe(false);
    expect(isUnanswered(refused(0, 5, 503))).toBe(false);
  });
});

describe('acceptQueueFinding', () => {
  it('says the queue is full at N and warns that abandoned handshakes may still reach the backend', () => {
    const finding = acceptQueueFinding({
      count: 20,
      rates: [100, 50, 25],
      handshakeTimeoutSeconds: 0.5,
      evidence: {},
      probeSeconds: 3,
    });
    expect(finding).toMatchObject({
      kind: 'accept-queue',
      experiment: 'queueing-gateway',
      values: { count: 20 },
      probeSeconds: 3,
    });
    expect(finding.sentence).toBe(
      'Full accept queue at 20 (from the 21st upgrade on, handshakes connected over TCP but got no HTTP answer ' +
        'within 0.5 s, at every connect rate tried: 100, 50 and 25 connections/s); beware: a queueing gateway may ' +
        'still hand the abandoned handshakes to the backend later, after the client gave up.',
    );
  });
});

describe('diagnoseRun against a queueing gateway', () => {
  it(
    'reports a queue as a queue (unanswered upgrades from the 21st on, at every rate tried) and its exact ' + 'size',
    async () => {
      const target = await startTargetSimulator({ cap: { limit: 20, response: { kind: 'queue' } } });
      simulators.push(target);
      const ramp = await rampAgainst(target.url, {
        stages: [10, 30],
        connectRate: 200,
        holdSeconds: 0.6,
        handshakeTimeoutSeconds: 0.5,
      });
      const diagnosis = await diagnoseRun(ramp, diagnoseDependencies(), { resolution: 1, budgetSeconds: 60 });
      expect(diagnosis.verdict).toBe('explained');
      expect(diagnosis.findings.map((finding) => finding.kind)).toEqual(['accept-queue', 'exact-ceiling']);
      expect(diagnosis.findings[0]).toMatchObject({
        experiment: 'queueing-gateway',
        values: { count: 20, rates: [200, 100, 50], handshakeTimeoutSeconds: 0.5 },
        // 10 in the ramp and in each slower attempt, 3 in each of the count check's two refills.
        evidence: { failureClasses: { 'handshake-timeout': 36 } },
      });
      expect(diagnosis.findings[1]).toMatchObject({ values: { value: 20, failsAt: 21 }, probeSeconds: 0 });
      expect(target.stats().queued).toBe(36);
    },
  );
});
