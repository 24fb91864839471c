import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { runPlanShards } from '../../bin/cli/local-shards.js';
import { ProbeLedger, type ExperimentContext, type PlanRunner } from '../../functions/diagnose/experiment-probe.js';
import { observeAttempt, type AttemptObservation } from '../../functions/diagnose/attempt-observation.js';
import { judgeRateOrCount, runRateOrCount } from '../../functions/diagnose/rate-or-count.js';
import { fitTokenBucket } from '../../functions/diagnose/token-bucket.js';
import type { ConnectionRecord, ProbeSettings } from '../../functions/engine/types.js';
import {
  startTargetSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../functions/simulator/target-simulator.js';
import { diagnoseDependencies, rampAgainst } from '../support/diagnose-ramp.js';
import { opened, refused, stagesOf, T0 } from '../support/records.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function simulator(options: SimulatorOptions): Promise<RunningSimulator> {
  const running = await startTargetSimulator(options);
  cleanups.push(() => running.stop());
  return running;
}

function contextFor(
  settings: ProbeSettings,
  progress: string[] = [],
  overrides: Partial<ExperimentContext> = {},
): ExperimentContext {
  return { ...diagnoseDependencies(progress), settings, budgetSeconds: 60, ledger: new ProbeLedger(), ...overrides };
}

/** Runs the ramp against `url`, then the experiment from its failing stage. */
async function rampThenExperiment(
  url: string,
  overrides: Partial<ProbeSettings>,
  context: Partial<ExperimentContext> = {},
) {
  const ramp = await rampAgainst(url, overrides);
  const failing = ramp.run.stages.find((stage) => !stage.held);
  const failingStage = ramp.plan.stages[failing?.index ?? -1];
  if (!failingStage) throw new Error(`the ramp did not fail: ${ramp.run.verdictReason}`);
  const started = Date.now();
  const records = ramp.shards.flatMap((shard) => shard.records);
  const findings = await runRateOrCount(contextFor(ramp.settings, [], context), {
    records,
    stages: ramp.plan.stages,
    failingStage,
    rate: ramp.settings.connectRate,
  });
  return { findings, ramp, started };
}

const observation = (overrides: Partial<AttemptObservation>): AttemptObservation => ({
  rate: 100,
  attempted: 40,
  opened: 30,
  refused: 10,
  byStatus: { '503': 10 },
  byClass: { 'handshake-rejected': 10 },
  retryAfter: [],
  openBeforeFirstRefusal: 30,
  openedAfterFirstRefusal: 0,
  firstStretch: { opened: 30, seconds: 0.3 },
  stretchesAfterWait: [],
  waits: 0,
  steady: { opened: 0, seconds: 0.1 },
  fromRefill: true,
  sustainedPerSecond: null,
  burst: null,
  lastRefusalAt: null,
  retryAfterSeconds: null,
  unanswered: false,
  refusalSeconds: { min: 0.001, median: 0.001, max: 0.002 },
  slowestOpenSeconds: 0.002,
  tailByStatus: {},
  ...overrides,
});

/**
 * The records of one attempt against an ideal token bucket (refill
 * `perSecond`, size `burst`, full at the start): upgrades every 1 / `rate` s;
 * a refusal carries Retry-After `retryAfter`, and when `honour` is set
 * nothing more is sent until it has passed.
 */
function bucketAttempt(
  bucket: { perSecond: number; burst: number; retryAfter: number },
  rate: number,
  count: number,
  honour: boolean,
): ConnectionRecord[] {
  let tokens = bucket.burst;
  let clock = 0;
  let at = 0;
  const records: ConnectionRecord[] = [];
  for (let k = 0; k < count; k += 1) {
    tokens = Math.min(bucket.burst, tokens + ((at - clock) / 1000) * bucket.perSecond);
    clock = at;
    if (tokens >= 1) {
      tokens -= 1;
      records.push(opened(0, at + 1));
      at += 1000 / rate;
    } else {
      records.push(refused(0, at + 1, 429, String(bucket.retryAfter)));
      at += honour && bucket.retryAfter > 0 ? bucket.retryAfter * 1000 + 1 : 1000 / rate;
    }
  }
  return records;
}

function observeBucket(
  bucket: { perSecond: number; burst: number; retryAfter: number },
  rate: number,
  count: number,
  honour = true,
): AttemptObservation {
  const records = bucketAttempt(bucket, rate, count, honour);
  return observeAttempt(records, {
    allRecords: records,
    stages: stagesOf([count], 100_000, 500),
    rate,
    fromRefill: true,
  });
}

/** A WebSocket server refusing with 429 and `Retry-After` by a token bucket, recording when each upgrade arrived. */
async function tokenBucketServer(
  perSecond: number,
  burst: number,
  retryAfter: number,
): Promise<{ url: string; arrivals: { at: number; refused: boolean }[] }> {
  const arrivals: { at: number; refused: boolean }[] = [];
  let tokens = burst;
  let refilledAt = performance.now();
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (_info, accept) => {
      const now = performance.now();
      tokens = Math.min(burst, tokens + ((now - refilledAt) / 1000) * perSecond);
      refilledAt = now;
      const refuse = tokens < 1;
      if (!refuse) tokens -= 1;
      arrivals.push({ at: Date.now(), refused: refuse });
      if (refuse) accept(false, 429, 'Too Many Requests', { 'Retry-After': String(retryAfter) });
      else accept(true);
    },
  });
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  server.on('connection', (socket) => cleanups.push(() => Promise.resolve(socket.terminate())));
  await new Promise((resolve) => server.once('listening', resolve));
  return { url: `ws://127.0.0.1:${(server.address() as { port: number }).port}`, arrivals };
}

describe('observeAttempt', () => {
  it('sees a cap: refusals from the 31st upgrade and nothing opened after the first', () => {
    const stages = stagesOf([40], 400, 500);
    const records = [
      ...Array.from({ length: 30 }, (_, i) => opened(0, i * 10)),
      ...Array.from({ length: 10 }, (_, i) => refused(0, 300 + i * 10, 503)),
    ];
    expect(observeAttempt(records, { allRecords: records, stages, rate: 100, fromRefill: true })).toMatchObject({
      attempted: 40,
      opened: 30,
      refused: 10,
      byStatus: { '503': 10 },
      openBeforeFirstRefusal: 30,
      openedAfterFirstRefusal: 0,
      unanswered: false,
    });
  });

  it(
    'sees a token bucket the probe kept sending to: the rate between the first and last refusal, the burst ' +
      'before the first',
    () => {
      // Attempts every 10 ms; the first 20 open, then one in five (20 per second) for a second.
      const records = Array.from({ length: 121 }, (_, i) =>
        i < 20 || i % 5 === 4 ? opened(0, i * 10) : refused(0, i * 10, 429, i === 120 ? '3' : '1'),
      );
      const seen = observeAttempt(records, {
        allRecords: records,
        stages: stagesOf([121], 1210, 500),
        rate: 100,
        fromRefill: true,
      });
      expect(seen).toMatchObject({
        openBeforeFirstRefusal: 20,
        openedAfterFirstRefusal: 20,
        firstStretch: { opened: 20, seconds: 0.2 },
        steady: { opened: 20, seconds: 1 },
        waits: 0,
      });
      expect(seen.sustainedPerSecond).toBeCloseTo(20, 5);
      // 20 let through in 0.2 s at 20/s: 20 − 4, plus half a token and half an upgrade's refill (20 / 100 / 2).
      expect(seen.burst).toBeCloseTo(16.6, 5);
      expect(seen.retryAfter).toEqual(['1', '3']);
      expect(seen.retryAfterSeconds).toBe(3);
    },
  );

  it('counts an upgrade in flight when the first refusal came back as not let through after it: it raced it', () => {
    // A cap of 10: the 11th upgrade's refusal is answered at 130 ms, after the 12th (sent at 109 ms, before that
    // answer) was let in because a slot freed meanwhile. Only the 13th, sent after the answer, would prove more.
    const records = [
      ...Array.from({ length: 10 }, (_, i) => opened(0, i * 10)),
      { ...refused(0, 130, 503), attemptedAt: T0 + 99 },
      opened(0, 110),
      refused(0, 140, 503),
    ];
    const stages = stagesOf([13], 130, 500);
    expect(observeAttempt(records, { allRecords: records, stages, rate: 100, fromRefill: false })).toMatchObject({
      openBeforeFirstRefusal: 10,
      openedAfterFirstRefusal: 0,
    });
  });

  it('splits an attempt that waited out Retry-After into stretches after each wait', () => {
    const seen = observeBucket({ perSecond: 20, burst: 30, retryAfter: 1 }, 60, 100);
    expect(seen.firstStretch?.opened).toBe(44);
    expect(seen.waits).toBe(2);
    expect(seen.stretchesAfterWait.map((stretch) => stretch.opened)).toEqual([30]);
  });
});

describe('judgeRateOrCount', () => {
  it('calls refusals at one count with none let through, at two rates or more, a count limit', () => {
    expect(
      judgeRateOrCount([observation({ rate: 100 }), observation({ rate: 50 }), observation({ rate: 25 })]),
    ).toEqual({ kind: 'count-limit', count: 30, unanswered: false });
  });

  it('will not tell a cap from one rate only', () => {
    expect(judgeRateOrCount([observation({})]).kind).toBe('undetermined');
  });

  it('calls refusals that vanish at a slower rate a rate limit, with the rate they vanished at', () => {
    const verdict = judgeRateOrCount([
      observation({ openedAfterFirstRefusal: 12 }),
      observation({ rate: 50, refused: 0, opened: 40, openBeforeFirstRefusal: null }),
    ]);
    expect(verdict).toEqual({ kind: 'rate-limit', cleanAtRate: 50 });
  });

  it('calls refusals that let connections through at every rate a rate limit', () => {
    expect(
      judgeRateOrCount([
        observation({ openedAfterFirstRefusal: 12 }),
        observation({ rate: 50, openedAfterFirstRefusal: 3 }),
      ]).kind,
    ).toBe('rate-limit');
  });

  it(
    'claims no cap behind a rate limit from the slowest rate refused at a count: only the ramp under the rate ' +
      'limit may, after its count check',
    () => {
      const verdict = judgeRateOrCount([
        observation({ openedAfterFirstRefusal: 12, openBeforeFirstRefusal: 12 }),
        observation({ rate: 25, openBeforeFirstRefusal: 30 }),
      ]);
      expect(verdict).toEqual({ kind: 'rate-limit', cleanAtRate: null });
    },
  );

  it('marks refusals at different counts with none let through as a count that moved, as a window does', () => {
    const verdict = judgeRateOrCount([observation({}), observation({ rate: 50, openBeforeFirstRefusal: 0 })]);
    expect(verdict).toMatchObject({ kind: 'undetermined', countMoved: true });
  });

  it('is undetermined when nothing was refused', () => {
    expect(judgeRateOrCount([observation({ refused: 0, openBeforeFirstRefusal: null })]).kind).toBe('undetermined');
  });
});

describe('runRateOrCount', () => {
  it.each([
    // rate=20,burst=30 with Retry-After 1 and rate=40,burst=30 with Retry-After 1 are measured in the tests below.
    [
      { perSecond: 40, burst: 30, retryAfterSeconds: 0 },
      { stages: [30, 150], connectRate: 120 },
    ],
    [
      { perSecond: 100, burst: 50, retryAfterSeconds: 1 },
      { stages: [50, 300], connectRate: 400 },
    ],
    [
      { perSecond: 100, burst: 50, retryAfterSeconds: 0 },
      { stages: [50, 300], connectRate: 400 },
    ],
  ])("measures the simulator's token bucket %o within 10 %, ramping %o", async (rateLimit, ramp) => {
    const target = await simulator({ rateLimit });
    const { findings } = await rampThenExperiment(target.url, {
      ...ramp,
      holdSeconds: 0.3,
      maxConnections: Math.max(...ramp.stages),
    });
    const finding = findings[0];
    if (finding?.kind !== 'handshake-rate-limit') throw new Error(`expected a rate limit, got ${finding?.sentence}`);
    expect(Math.abs((finding.values.perSecond ?? 0) / rateLimit.perSecond - 1), finding.sentence).toBeLessThanOrEqual(
      0.1,
    );
    expect(Math.abs((finding.values.burst ?? 0) / rateLimit.burst - 1), finding.sentence).toBeLessThanOrEqual(0.1);
  });

  it(
    "never attempts more than --max-connections when it equals the plan's largest stage, and still measures " +
      'rate=20,burst=30 within 10 %',
    async () => {
      const target = await simulator({ rateLimit: { perSecond: 20, burst: 30, retryAfterSeconds: 1 } });
      const largest: number[] = [];
      const runPlan: PlanRunner = (request) => {
        largest.push(Math.max(...request.settings.stages));
        return runPlanShards(request);
      };
      const { findings } = await rampThenExperiment(
        target.url,
        { stages: [30, 100], connectRate: 60, holdSeconds: 0.3, maxConnections: 100 },
        { runPlan },
      );
      expect(largest.length).toBeGreaterThan(1);
      expect(Math.max(...largest)).toBeLessThanOrEqual(100);
      const finding = findings[0];
      if (findings.length !== 1 || finding?.kind !== 'handshake-rate-limit')
        throw new Error(`expected one rate limit, got ${findings.map((f) => f.sentence).join(' ')}`);
      expect(Math.abs((finding.values.perSecond ?? 0) / 20 - 1), finding.sentence).toBeLessThanOrEqual(0.1);
      expect(Math.abs((finding.values.burst ?? 0) / 30 - 1), finding.sentence).toBeLessThanOrEqual(0.1);
    },
  );

  it(
    'sends nothing through a Retry-After window while it measures: after each refusal, the next upgrade waits ' +
      'it out',
    async () => {
      const target = await tokenBucketServer(20, 30, 1);
      const { findings, started } = await rampThenExperiment(target.url, {
        stages: [30, 100],
        connectRate: 60,
        holdSeconds: 0.3,
        maxConnections: 100,
      });
      expect(findings[0]?.kind).toBe('handshake-rate-limit');
      // The ½-rate attempt (30/s) passes, so every refusal after the ramp is the measurement's.
      const measured = target.arrivals.filter((arrival) => arrival.at >= started);
      const refusals = measured.filter((arrival) => arrival.refused);
      expect(refusals.length).toBeGreaterThan(0);
      expect(refusals.length).toBeLessThanOrEqual(4);
      for (const refusal of refusals) {
        const next = measured.find((arrival) => arrival.at > refusal.at + 20);
        if (next) expect(next.at - refusal.at).toBeGreaterThanOrEqual(950);
      }
    },
  );

  it(
    'is undetermined, naming the Retry-After, when the target asks to wait longer than the experiment budget ' +
      'allows',
    async () => {
      const target = await simulator({ rateLimit: { perSecond: 20, burst: 30, retryAfterSeconds: 600 } });
      const { findings, started } = await rampThenExperiment(
        target.url,
        { stages: [30, 100], connectRate: 60, holdSeconds: 0.3 },
        { budgetSeconds: 20 },
      );
      expect(Date.now() - started).toBeLessThan(20_000);
      const undetermined = findings.find((finding) => finding.kind === 'undetermined');
      expect(undetermined?.sentence).toMatch(
        /the target asked to wait 600 s \(Retry-After\) before the next upgrade, longer than the [\d.]+ s left of the experiment budget \(--experiment-budget 20\)/,
      );
    },
  );

  it(
    'reports a token bucket as a rate limit with its rate and burst within 10 %, and the slower rate that ' + 'passed',
    async () => {
      const target = await simulator({ rateLimit: { perSecond: 40, burst: 30, retryAfterSeconds: 1 } });
      const { findings } = await rampThenExperiment(target.url, {
        stages: [30, 150],
        connectRate: 120,
        holdSeconds: 0.3,
      });
      expect(findings.map((finding) => finding.kind)).toEqual(['handshake-rate-limit']);
      const finding = findings[0];
      if (finding?.kind !== 'handshake-rate-limit') throw new Error('expected a rate limit');
      expect(finding.values.perSecond).toBeGreaterThanOrEqual(36);
      expect(finding.values.perSecond).toBeLessThanOrEqual(44);
      expect(finding.values.burst).toBeGreaterThanOrEqual(27);
      expect(finding.values.burst).toBeLessThanOrEqual(33);
      expect(finding.values.cleanAtRate).not.toBeNull();
      expect(finding.evidence.retryAfter).toEqual(['1']);
      expect(finding.sentence).toMatch(
        /^Handshake rate limit of \d+(\.\d)? handshakes\/s with a burst of \d+ \(HTTP 429 with Retry-After 1; refusals vanished at \d+\/s\)/,
      );
    },
  );

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
    const { findings } = await rampThenExperiment(`ws://127.0.0.1:${(server.address() as { port: number }).port}`, {
      stages: [5, 15],
      holdSeconds: 0.3,
    });
    expect(findings[0], findings.map((finding) => finding.sentence).join('\n')).toMatchObject({
      kind: 'concurrency-cap',
      values: { count: 10, rates: [100, 50, 25] },
      evidence: { retryAfter: ['1'] },
    });
    // Split the upgrades into attempts (gaps of 250 ms or more): each starts at least 1 s after the last refusal before
    // it.
    const attempts: (typeof arrivals)[] = [];
    for (const arrival of arrivals) {
      const current = attempts[attempts.length - 1];
      const previous = current?.[current.length - 1];
      if (!current || !previous || arrival.at - previous.at >= 250) attempts.push([arrival]);
      else current.push(arrival);
    }
    // Ramp stage 1, ramp stage 2, ½ rate, ¼ rate, the count check's connections held open and its first refill, and
    // its refill after closing those.
    expect(attempts).toHaveLength(6);
    for (const [index, attempt] of attempts.entries()) {
      if (index < 2) continue;
      const lastRefusal = Math.max(
        ...attempts
          .slice(0, index)
          .flat()
          .filter((arrival) => arrival.refused)
          .map((arrival) => arrival.at),
      );
      expect(attempt[0]!.at - lastRefusal).toBeGreaterThanOrEqual(990);
    }
  });
});

describe('fitTokenBucket', () => {
  it.each([
    [{ perSecond: 20, burst: 30, retryAfter: 1 }, 60, 100],
    [{ perSecond: 40, burst: 30, retryAfter: 0 }, 120, 150],
    [{ perSecond: 100, burst: 50, retryAfter: 0 }, 400, 300],
  ])('reads %o from one attempt at %d/s while the bucket stays under full between refusals', (bucket, rate, count) => {
    const fit = fitTokenBucket([observeBucket(bucket, rate, count)]);
    expect(fit?.perSecond).toBeCloseTo(bucket.perSecond, -0.5);
    expect(Math.abs((fit?.burst ?? 0) - bucket.burst)).toBeLessThanOrEqual(1);
  });

  it(
    'cannot tell rate from burst at one rate when every Retry-After wait refills the bucket to full, and can at ' +
      'two',
    () => {
      const bucket = { perSecond: 40, burst: 30, retryAfter: 1 };
      const fast = observeBucket(bucket, 120, 150);
      expect(fast.stretchesAfterWait.every((stretch) => stretch.opened === fast.firstStretch?.opened)).toBe(true);
      expect(fitTokenBucket([fast])).toBeUndefined();
      const fit = fitTokenBucket([fast, observeBucket(bucket, 60, 150)]);
      expect(Math.abs((fit?.perSecond ?? 0) - 40)).toBeLessThan(1);
      expect(Math.abs((fit?.burst ?? 0) - 30)).toBeLessThanOrEqual(1);
    },
  );

  it('declines with too few handshakes let through between refusals and one rate only', () => {
    expect(fitTokenBucket([observation({ steady: { opened: 3, seconds: 0.5 } })])).toBeUndefined();
  });
});
