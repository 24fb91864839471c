import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { ProbeLedger, type ExperimentContext } from '../functions/diagnose/experiment-probe.js';
import { fitTokenBucket, judgeRateOrCount, observeAttempt, retryAfterSeconds, runRateOrCount, type AttemptObservation } from '../functions/diagnose/rate-or-count.js';
import type { ProbeSettings } from '../functions/engine/types.js';
import { startTargetSimulator, type RunningSimulator, type SimulatorOptions } from '../functions/simulator/target-simulator.js';
import { diagnoseDependencies, rampAgainst } from './support/diagnose-ramp.js';
import { opened, refused, stagesOf, T0 } from './support/records.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function simulator(options: SimulatorOptions): Promise<RunningSimulator> {
  const running = await startTargetSimulator(options);
  cleanups.push(() => running.stop());
  return running;
}

function contextFor(settings: ProbeSettings, progress: string[] = []): ExperimentContext {
  return { ...diagnoseDependencies(progress), settings, budgetSeconds: 60, ledger: new ProbeLedger() };
}

/** Runs the ramp against `url`, then the experiment from its failing stage. */
async function rampThenExperiment(url: string, overrides: Partial<ProbeSettings>) {
  const ramp = await rampAgainst(url, overrides);
  const failing = ramp.run.stages.find((stage) => !stage.held);
  const failingStage = ramp.plan.stages[failing?.index ?? -1];
  if (!failingStage) throw new Error(`the ramp did not fail: ${ramp.run.verdictReason}`);
  const context = contextFor(ramp.settings);
  const records = ramp.shards.flatMap((shard) => shard.records);
  const findings = await runRateOrCount(context, { records, stages: ramp.plan.stages, failingStage, rate: ramp.settings.connectRate });
  return { findings, context, ramp };
}

const observation = (overrides: Partial<AttemptObservation>): AttemptObservation => ({
  rate: 100, attempted: 40, opened: 30, refused: 10, byStatus: { '503': 10 }, byClass: { 'handshake-rejected': 10 }, retryAfter: [],
  openBeforeFirstRefusal: 30, openedAfterFirstRefusal: 0, sustainedPerSecond: 0, refusalWindowSeconds: 0.1,
  burst: null, lastRefusalAt: null, retryAfterSeconds: null, unanswered: false, ...overrides,
});

describe('observeAttempt', () => {
  it('sees a cap: refusals from the 31st upgrade and nothing opened after the first', () => {
    const stages = stagesOf([40], 400, 500);
    const records = [...Array.from({ length: 30 }, (_, i) => opened(0, i * 10)), ...Array.from({ length: 10 }, (_, i) => refused(0, 300 + i * 10, 503))];
    expect(observeAttempt(records, { allRecords: records, stages, rate: 100 })).toMatchObject({
      attempted: 40, opened: 30, refused: 10, byStatus: { '503': 10 }, openBeforeFirstRefusal: 30, openedAfterFirstRefusal: 0, unanswered: false,
    });
  });

  it('sees a token bucket: the sustained rate between refusals and the burst before the first, with the longest Retry-After', () => {
    // Attempts every 10 ms; the first 20 open (the burst), then one in five (20 per second) for a second.
    const records = Array.from({ length: 121 }, (_, i) => (i < 20 || i % 5 === 4 ? opened(0, i * 10) : refused(0, i * 10, 429, i === 120 ? '3' : '1')));
    const seen = observeAttempt(records, { allRecords: records, stages: stagesOf([121], 1210, 500), rate: 100 });
    expect(seen.openBeforeFirstRefusal).toBe(20);
    expect(seen.openedAfterFirstRefusal).toBe(20);
    expect(seen.refusalWindowSeconds).toBe(1);
    expect(seen.sustainedPerSecond).toBeCloseTo(20, 5);
    // The 21st success came at 0.24 s: 21 − 20 × 0.24 = 16.2, plus half an attempt's worth of refill (20 / 2 / 100).
    expect(seen.burst).toBeCloseTo(16.3, 5);
    expect(seen.retryAfter).toEqual(['1', '3']);
    expect(seen.retryAfterSeconds).toBe(3);
  });
});

describe('judgeRateOrCount', () => {
  it('calls refusals at one count with none let through, at two rates or more, a count limit', () => {
    expect(judgeRateOrCount([observation({ rate: 100 }), observation({ rate: 50 }), observation({ rate: 25 })])).toEqual({ kind: 'count-limit', count: 30, unanswered: false });
  });

  it('will not tell a cap from one rate only', () => {
    expect(judgeRateOrCount([observation({})]).kind).toBe('undetermined');
  });

  it('calls refusals that vanish at a slower rate a rate limit, with the rate they vanished at', () => {
    const verdict = judgeRateOrCount([observation({ openedAfterFirstRefusal: 12 }), observation({ rate: 50, refused: 0, opened: 40, openBeforeFirstRefusal: null })]);
    expect(verdict).toEqual({ kind: 'rate-limit', cleanAtRate: 50, countLimit: null });
  });

  it('calls refusals that let connections through at every rate a rate limit', () => {
    expect(judgeRateOrCount([observation({ openedAfterFirstRefusal: 12 }), observation({ rate: 50, openedAfterFirstRefusal: 3 })]).kind).toBe('rate-limit');
  });

  it('sees a cap behind a rate limit when the slowest rate is refused at a count with none let through', () => {
    const verdict = judgeRateOrCount([observation({ openedAfterFirstRefusal: 12, openBeforeFirstRefusal: 12 }), observation({ rate: 25, openBeforeFirstRefusal: 30 })]);
    expect(verdict).toEqual({ kind: 'rate-limit', cleanAtRate: null, countLimit: 30 });
  });

  it('is undetermined when nothing was refused', () => {
    expect(judgeRateOrCount([observation({ refused: 0, openBeforeFirstRefusal: null })]).kind).toBe('undetermined');
  });
});

describe('retryAfterSeconds', () => {
  it('reads delta-seconds and HTTP dates', () => {
    const at = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(retryAfterSeconds('7', at)).toBe(7);
    expect(retryAfterSeconds('Thu, 01 Jan 2026 00:00:30 GMT', at)).toBe(30);
    expect(retryAfterSeconds('soon', at)).toBeNull();
  });
});

describe('runRateOrCount', () => {
  it('reports a token bucket as a rate limit with its rate and burst within 10 %, and the slower rate that passed', async () => {
    const target = await simulator({ rateLimit: { perSecond: 40, burst: 30, retryAfterSeconds: 1 } });
    const { findings } = await rampThenExperiment(target.url, { stages: [30, 150], connectRate: 120, holdSeconds: 0.3 });
    expect(findings.map((finding) => finding.kind)).toEqual(['handshake-rate-limit']);
    const finding = findings[0];
    if (finding?.kind !== 'handshake-rate-limit') throw new Error('expected a rate limit');
    expect(finding.values.perSecond).toBeGreaterThanOrEqual(36);
    expect(finding.values.perSecond).toBeLessThanOrEqual(44);
    expect(finding.values.burst).toBeGreaterThanOrEqual(27);
    expect(finding.values.burst).toBeLessThanOrEqual(33);
    expect(finding.values.cleanAtRate).not.toBeNull();
    expect(finding.evidence.retryAfter).toEqual(['1']);
    expect(finding.sentence).toMatch(/^Handshake rate limit of \d+(\.\d)? handshakes\/s with a burst of \d+ \(HTTP 429 with Retry-After 1; refusals vanished at \d+\/s\)/);
  });

  it('waits out Retry-After before each slower attempt', async () => {
    const arrivals: { at: number; refused: boolean }[] = [];
    let open = 0;
    const server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      verifyClient: (_info, accept) => {
        const refuse = open >= 10;
        arrivals.push({ at: Date.now(), refused: refuse });
        if (refuse) accept(false, 503, 'Service Unavailable', { 'Retry-After': '1' });
        else accept(true);
      },
    });
    server.on('connection', (socket) => {
      open += 1;
      socket.on('close', () => (open -= 1));
    });
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    await new Promise((resolve) => server.once('listening', resolve));
    const { findings } = await rampThenExperiment(`ws://127.0.0.1:${(server.address() as { port: number }).port}`, { stages: [5, 15], holdSeconds: 0.3 });
    expect(findings[0]).toMatchObject({ kind: 'concurrency-cap', values: { count: 10, rates: [100, 50, 25] }, evidence: { retryAfter: ['1'] } });
    // Split the upgrades into attempts (gaps of 250 ms or more): each starts at least 1 s after the last refusal before it.
    const attempts: (typeof arrivals)[] = [];
    for (const arrival of arrivals) {
      const current = attempts[attempts.length - 1];
      const previous = current?.[current.length - 1];
      if (!current || !previous || arrival.at - previous.at >= 250) attempts.push([arrival]);
      else current.push(arrival);
    }
    expect(attempts).toHaveLength(4); // ramp stage 1, ramp stage 2, ½ rate, ¼ rate
    for (const [index, attempt] of attempts.entries()) {
      if (index < 2) continue;
      const lastRefusal = Math.max(...attempts.slice(0, index).flat().filter((arrival) => arrival.refused).map((arrival) => arrival.at));
      expect(attempt[0]!.at - lastRefusal).toBeGreaterThanOrEqual(990);
    }
  });
});

describe('fitTokenBucket', () => {
  it('recovers rate and burst from successes that came late or early by a few milliseconds', () => {
    // A bucket of 50 refilling at 100/s, upgrades every 3 ms for a second, each seen up to ±4 ms off.
    const jitter = [3, -4, 1, 4, -2, 0, -3, 2];
    const opened = Array.from({ length: 150 }, (_, k) => ({ attemptedAt: 1000 * ((k + 1 - 50) / 100) + (jitter[k % jitter.length] ?? 0) })).filter((point) => point.attemptedAt > 10);
    const records = opened.map((point, index) => ({ shard: 0, id: index, stage: 0, attemptedAt: point.attemptedAt, outcome: 'opened' as const, settledAt: point.attemptedAt + 1 }));
    const firstSucceeded = Array.from({ length: 50 }, (_, index) => ({ shard: 0, id: 1000 + index, stage: 0, attemptedAt: index * 0.2, outcome: 'opened' as const, settledAt: index * 0.2 + 1 }));
    const fit = fitTokenBucket([...firstSucceeded, ...records], 0, 10, 1000, 333);
    expect(fit?.perSecond).toBeGreaterThan(95);
    expect(fit?.perSecond).toBeLessThan(105);
    expect(fit?.burst).toBeGreaterThan(47);
    expect(fit?.burst).toBeLessThan(53);
  });

  it('declines with fewer than five successes to fit', () => {
    expect(fitTokenBucket([opened(0, 5), opened(0, 50)], T0, T0 + 1, T0 + 100, 100)).toBeUndefined();
  });
});
