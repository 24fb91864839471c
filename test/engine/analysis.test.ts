import { describe, expect, it } from 'vitest';
import { analyzeRun, type AnalysisInput } from '../../functions/engine/analysis.js';
import type { ConnectionRecord, ShardResult } from '../../functions/engine/types.js';
import { connectError, opened, openMany, planOf, refused, shardOf, stagesOf, T0 } from '../support/records.js';

// Stages of 50 → 100 → 150 → 200, each ramping 1 s then holding 2 s: windows start at 0, 3000, 6000, 9000 ms.
const capStages = stagesOf([50, 100, 150, 200], 1000, 2000);

function input(shards: ShardResult[], overrides: Partial<AnalysisInput> = {}): AnalysisInput {
  const stages = overrides.plan?.stages ?? capStages;
  return {
    plan: planOf(stages),
    shards,
    tolerance: { kind: 'count', value: 0 },
    heartbeat: 'ping',
    url: 'ws://127.0.0.1:1/',
    ...overrides,
  };
}

function capRecords(): ConnectionRecord[] {
  return [
    ...openMany(0, 50, 0, 20),
    ...openMany(1, 50, 3000, 20),
    ...openMany(2, 50, 6000, 20),
    ...Array.from({ length: 50 }, (_, i) => refused(3, 9000 + i * 20, 503)),
  ];
}

describe('analyzeRun', () => {
  it('reports the ceiling at the last stage held and the drop onset at the open count of the first refusal', () => {
    const analysis = analyzeRun(input([shardOf(capRecords(), 4)]));
    expect(analysis.ceiling).toEqual({ value: 150, reached: true });
    expect(analysis.dropOnset).toBe(150);
    expect(analysis.verdict).toBe('ok');
    expect(analysis.limitingFactor?.kind).toBe('concurrency-cap');
    expect(analysis.limitingFactor?.evidence.failures.byStatus).toEqual({ '503': 50 });
    expect(analysis.limitingFactor?.evidence.firstFailure).toMatchObject({ openCount: 150, status: 503, stage: 3 });
    expect(analysis.limitingFactor?.summary).toContain('Concurrency cap at 150');
    expect(
      analysis.stages.map((stage) => [stage.target, stage.opened, stage.openAtEnd, stage.failed, stage.held]),
    ).toEqual([
      [50, 50, 50, 0, true],
      [100, 50, 100, 0, true],
      [150, 50, 150, 0, true],
      [200, 0, 150, 50, false],
    ]);
  });

  it('fails the pre-launch gate when the ceiling is under --min-ceiling', () => {
    const analysis = analyzeRun(input([shardOf(capRecords(), 4)], { minCeiling: 160 }));
    expect(analysis.verdict).toBe('below-floor');
    expect(analysis.verdictReason).toContain('under the required minimum 160');
  });

  it('reports ">= max" with no limiting factor when every stage held', () => {
    const records = capRecords().filter((record) => record.outcome === 'opened');
    records.push(...openMany(3, 50, 9000, 20));
    const analysis = analyzeRun(input([shardOf(records, 4)]));
    expect(analysis.ceiling).toEqual({ value: 200, reached: false });
    expect(analysis.limitingFactor).toBeNull();
    expect(analysis.dropOnset).toBeNull();
    expect(analysis.verdict).toBe('ok');
  });

  it('tells a handshake rate limit from a cap when connections keep opening after the first refusal', () => {
    const stages = stagesOf([40, 100], 1000, 2000);
    const records = [...openMany(0, 40, 0, 20)];
    for (let i = 0; i < 30; i += 1) {
      records.push(opened(1, 3000 + i * 40));
      records.push(refused(1, 3020 + i * 40, 429, '1'));
    }
    const analysis = analyzeRun(input([shardOf(records, 2)], { plan: planOf(stages) }));
    expect(analysis.limitingFactor?.kind).toBe('handshake-rate-limit');
    expect(analysis.limitingFactor?.evidence.retryAfter).toEqual(['1']);
    // 29 opens between the first refusal (3020 ms) and the last (4180 ms): 25 per second.
    expect(analysis.limitingFactor?.evidence.sustainableHandshakesPerSecond).toBe(25);
    expect(analysis.dropOnset).toBe(41);
    expect(analysis.ceiling).toEqual({ value: 40, reached: true });
  });

  it('claims no rate let through when the refusals lasted too briefly to measure one', () => {
    const stages = stagesOf([40, 100], 1000, 2000);
    const records = [...openMany(0, 40, 0, 20), refused(1, 3000, 429), opened(1, 3040), refused(1, 3085, 429)];
    const analysis = analyzeRun(input([shardOf(records, 2)], { plan: planOf(stages) }));
    expect(analysis.limitingFactor?.kind).toBe('handshake-rate-limit');
    // One open in 85 ms would read as 11.8 per second: too thin a stretch to say.
    expect(analysis.limitingFactor?.evidence.sustainableHandshakesPerSecond).toBeUndefined();
    expect(analysis.limitingFactor?.summary).toContain(
      'too briefly to estimate the rate let through: ws-ceiling diagnose measures it',
    );
  });

  it('reports connections closing at one idle age as an idle timeout with its value, not as a ceiling', () => {
    const stages = stagesOf([20, 40], 1000, 5000);
    const records = Array.from({ length: 20 }, (_, i) => opened(0, i * 20, { at: i * 20 + 4000 + (i % 3) * 10 }));
    const analysis = analyzeRun(input([shardOf(records, 1)], { plan: planOf(stages), heartbeat: 'off' }));
    expect(analysis.limitingFactor?.kind).toBe('idle-timeout');
    expect(analysis.limitingFactor?.valueSeconds).toBe(4.01);
    expect(analysis.limitingFactor?.evidence.idleAge).toEqual({
      count: 20,
      medianSeconds: 4.01,
      minSeconds: 4,
      maxSeconds: 4.02,
    });
    expect(analysis.ceiling).toEqual({ value: null, reached: false });
    expect(analysis.verdict).toBe('inconclusive');
    expect(analysis.dropOnset).toBe(20);
    expect(analysis.verdictReason).toContain('--ping under 4.0 s');
  });

  it('reports connections closed at one age despite heartbeats as a maximum lifetime', () => {
    const stages = stagesOf([20, 40], 1000, 7000);
    const records = Array.from({ length: 20 }, (_, i) =>
      opened(0, i * 20, {
        at: i * 20 + 5000,
        code: 4000,
        frameReceived: true,
        sinceInboundMs: 200 + i * 70,
        sinceOutboundMs: 100 + i * 60,
      }),
    );
    const analysis = analyzeRun(input([shardOf(records, 1)], { plan: planOf(stages) }));
    expect(analysis.limitingFactor?.kind).toBe('max-lifetime');
    expect(analysis.limitingFactor?.valueSeconds).toBe(5);
    expect(analysis.limitingFactor?.evidence.failures.byCloseCode).toEqual({ '4000': 20 });
    expect(analysis.verdict).toBe('inconclusive');
  });

  it('reports open connections dropped at scattered ages as server degradation', () => {
    const records = [...openMany(0, 50, 0, 20), ...openMany(1, 50, 3000, 20)];
    records.push(opened(2, 6000, { at: 6500, closedBy: 'pong-timeout' }));
    records.push(opened(2, 6020, { at: 7400, code: 1011, frameReceived: true }));
    records.push(opened(2, 6040, { at: 8100, closedBy: 'pong-timeout' }));
    const analysis = analyzeRun(input([shardOf(records, 3)]));
    expect(analysis.limitingFactor?.kind).toBe('server-degradation');
    expect(analysis.limitingFactor?.evidence.failures.byClass).toEqual({ 'pong-timeout': 2, 'server-close': 1 });
    expect(analysis.ceiling).toEqual({ value: 100, reached: true });
    expect(analysis.dropOnset).toBe(103);
  });

  it(
    'names the handshake slowdown in a degradation summary when the failing stage handshakes at least twice as ' +
      'slowly',
    () => {
      const slow = (record: ConnectionRecord): ConnectionRecord => ({ ...record, handshakeMs: 40 });
      const records = [...openMany(0, 50, 0, 20), ...openMany(1, 50, 3000, 20)];
      records.push(slow(opened(2, 6000, { at: 6500, closedBy: 'pong-timeout' })));
      records.push(slow(opened(2, 6040, { at: 8100, closedBy: 'pong-timeout' })));
      const analysis = analyzeRun(input([shardOf(records, 3)]));
      expect(analysis.limitingFactor?.kind).toBe('server-degradation');
      expect(analysis.limitingFactor?.summary).toBe(
        'Server degradation from 102 open connections: 2 pong timeouts, with handshake p95 rising from 1 ms in the ' +
          'first stage to 40 ms in the failing one. Open connections were dropped rather than new ones refused.',
      );
    },
  );

  it('counts a stage as held while its failures stay within the tolerance', () => {
    const records = capRecords().filter((record) => record.stage < 3);
    records[60] = refused(1, 3200, 503);
    const strict = analyzeRun(input([shardOf(records, 3)]));
    const tolerant = analyzeRun(input([shardOf(records, 3)], { tolerance: { kind: 'count', value: 1 } }));
    expect(strict.stages[1]?.held).toBe(false);
    expect(strict.ceiling.value).toBe(50);
    expect(tolerant.stages[1]?.held).toBe(true);
    expect(tolerant.stages[2]?.held).toBe(true);
  });

  it('never counts the probe’s own closes as drops', () => {
    const records = capRecords()
      .filter((record) => record.outcome === 'opened')
      .map((record) => ({
        ...record,
        close: {
          at: T0 + 12_000,
          code: 1006,
          reason: '',
          frameReceived: false,
          closedBy: 'probe' as const,
          ageMs: 1,
          sinceInboundMs: 1,
          sinceOutboundMs: 1,
        },
      }));
    const analysis = analyzeRun(input([shardOf(records, 3)], { plan: planOf(capStages.slice(0, 3)) }));
    expect(analysis.failures.total).toBe(0);
    expect(analysis.ceiling).toEqual({ value: 150, reached: false });
  });

  it('makes a run that ran out of descriptors inconclusive, never a low ceiling', () => {
    const records = [...openMany(0, 50, 0, 20), ...openMany(1, 30, 3000, 20), connectError(1, 3700, 'EMFILE')];
    const analysis = analyzeRun(
      input([shardOf(records, 1, { aborted: { failureClass: 'probe-limited', message: 'probe-limited: EMFILE' } })]),
    );
    expect(analysis.verdict).toBe('inconclusive');
    expect(analysis.limitingFactor?.kind).toBe('probe-limited');
    expect(analysis.limitingFactor?.summary).toContain('EMFILE');
    expect(analysis.ceiling.value).toBeNull();
    expect(analysis.dropOnset).toBe(80);
  });

  it('makes a run whose event loop was starved inconclusive', () => {
    const records = capRecords().filter((record) => record.stage < 2);
    const analysis = analyzeRun(input([shardOf(records, 2, { loopDelay: [{ stage: 1, p99Ms: 800, maxMs: 1200 }] })]));
    expect(analysis.verdict).toBe('inconclusive');
    expect(analysis.limitingFactor?.kind).toBe('probe-limited');
    expect(analysis.limitingFactor?.evidence.eventLoopDelayMaxMs).toBe(1200);
  });

  it.each([
    [
      true,
      'EMFILE',
      'Fix: raise the descriptor limit (ulimit -n) before starting the probe and keep it there for the whole ' +
        'run; every shard runs in this one process, so more shards (--shard-size) do not help here.',
    ],
    [false, 'EMFILE', 'Fix: lower the shard size (shardSize in the config) so more shards share the load.'],
    [
      true,
      'EADDRNOTAVAIL',
      'Fix: spread the load over more source addresses or machines, or widen net.ipv4.ip_local_port_range; every ' +
        'shard here takes its ports from this one host.',
    ],
  ])(
    'gives the one fix for a probe that ran out, by whether its shards shared one process (%s, %s)',
    (sharesProcess, code, fix) => {
      const records = [...openMany(0, 50, 0, 20), connectError(1, 3100, code)];
      const shard = shardOf(records, 1, {
        aborted: { failureClass: 'probe-limited', message: `probe-limited: ${code}` },
        ...(sharesProcess ? { sharesProcess } : {}),
      });
      expect(analyzeRun(input([shard])).limitingFactor?.summary).toContain(fix);
    },
  );

  it('gives a starved event loop on the local CLI a fix other than more shards', () => {
    const records = capRecords().filter((record) => record.stage < 2);
    const analysis = analyzeRun(
      input([shardOf(records, 2, { loopDelay: [{ stage: 1, p99Ms: 800, maxMs: 1200 }], sharesProcess: true })]),
    );
    expect(analysis.limitingFactor?.summary).toBe(
      "The probe's event loop was starved (p99 delay 800 ms, up to 1200 ms; 500 ms or more is starved), so its " +
        'timings cannot be trusted. Fix: probe with fewer connections (--stages) or from a larger, quieter machine; ' +
        'every shard runs in this one process, so more shards (--shard-size) do not help here.',
    );
  });

  it(
    'makes a run the resource watch stopped inconclusive with its reason, although its refusals look like a ' +
      'rate limit',
    () => {
      // Resets while the open count keeps rising read as a rate limit, unless the probe itself ran short meanwhile.
      const records = [
        ...openMany(0, 50, 0, 20),
        ...openMany(1, 30, 3000, 20),
        connectError(1, 3650, 'ECONNRESET'),
        ...openMany(1, 5, 3700, 20),
      ];
      const message =
        'While the run went on, the probe ran short of file descriptors: 190 open against a descriptor limit ' +
        "(ulimit -n) of 200, fewer than the 16 it keeps in reserve. So this run cannot say where the target's " +
        'limit is. Fix: raise the descriptor limit.';
      const analysis = analyzeRun(
        input([shardOf(records, 1, { aborted: { failureClass: 'probe-limited', message } })]),
      );
      expect(analysis.verdict).toBe('inconclusive');
      expect(analysis.ceiling.value).toBeNull();
      expect(analysis.limitingFactor).toMatchObject({ kind: 'probe-limited', evidence: { message } });
      expect(analysis.verdictReason).toBe(message);
    },
  );

  it("explains a run by the shard the probe's own limits stopped, whichever shard comes first", () => {
    const message = 'worker 1 opened nothing, as its shard does not fit its Lambda: …';
    const analysis = analyzeRun(
      input([
        shardOf(openMany(0, 50, 0, 20), 1, {
          aborted: { failureClass: 'interrupted', message: 'worker 0 stopped by the Lambda deadline' },
        }),
        shardOf([], 0, { shard: 1, aborted: { failureClass: 'probe-limited', message } }),
      ]),
    );
    expect(analysis.verdict).toBe('inconclusive');
    expect(analysis.limitingFactor?.kind).toBe('probe-limited');
    expect(analysis.verdictReason).toBe(message);
  });

  it('fails the run on a 401 as a config error with no ceiling', () => {
    const analysis = analyzeRun(
      input([shardOf([refused(0, 0, 401)], 0, { aborted: { failureClass: 'config-error', message: 'x' } })]),
    );
    expect(analysis.verdict).toBe('failed');
    expect(analysis.limitingFactor?.kind).toBe('config-error');
    expect(analysis.limitingFactor?.summary).toContain('HTTP 401');
    expect(analysis.ceiling).toEqual({ value: null, reached: false });
    expect(analysis.dropOnset).toBeNull();
  });

  it('fails the run as unreachable when the very first connection is refused', () => {
    const analysis = analyzeRun(input([shardOf([connectError(0, 0, 'ECONNREFUSED')], 0)]));
    expect(analysis.verdict).toBe('failed');
    expect(analysis.limitingFactor?.kind).toBe('unreachable');
    expect(analysis.limitingFactor?.summary).toContain('ECONNREFUSED');
  });

  it('says the first stage was too high when not even it held', () => {
    const records = [...openMany(0, 30, 0, 20), ...Array.from({ length: 20 }, (_, i) => refused(0, 600 + i * 20, 503))];
    const analysis = analyzeRun(input([shardOf(records, 1)]));
    expect(analysis.verdict).toBe('inconclusive');
    expect(analysis.ceiling).toEqual({ value: null, reached: true });
    expect(analysis.dropOnset).toBe(30);
    expect(analysis.verdictReason).toContain('start lower');
  });

  it('makes an interrupted run inconclusive', () => {
    const records = capRecords().filter((record) => record.stage === 0);
    const analysis = analyzeRun(
      input([shardOf(records, 0, { aborted: { failureClass: 'interrupted', message: 'stopped by SIGINT' } })]),
    );
    expect(analysis.verdict).toBe('inconclusive');
    expect(analysis.verdictReason).toContain('stopped');
  });

  it('reads a cap, not a rate limit, when an upgrade in flight at the first refusal is answered after it', () => {
    // Shard 0's sixth upgrade left at 3000 ms and was let in, but its answer came at 3012 ms; shard 1's upgrade,
    // sent at 3001 ms, was refused at 3005 ms. The count rose after the first refusal only by the upgrade that was
    // already in flight: a cap at 6, not a rate limit (and not a cap at 5).
    const stages = stagesOf([5, 10], 1000, 2000);
    const raced = { ...opened(1, 3012), attemptedAt: T0 + 3000 };
    const refusals = Array.from({ length: 4 }, (_, i) => ({ ...refused(1, 3005 + i * 20, 503), shard: 1 }));
    const shardA = shardOf([...openMany(0, 5, 0, 20), raced], 2);
    const shardB = { ...shardOf(refusals, 2), shard: 1 };
    const analysis = analyzeRun(input([shardA, shardB], { plan: planOf(stages) }));
    expect(analysis.limitingFactor?.kind).toBe('concurrency-cap');
    expect(analysis.limitingFactor?.summary).toContain('Concurrency cap at 6');
    expect(analysis.dropOnset).toBe(6);
    expect(analysis.limitingFactor?.evidence.firstFailure).toMatchObject({ openCount: 6, status: 503 });
  });

  it('reads a cap, not a rate limit, when another shard takes the places a stopped shard is still closing', () => {
    // A cap of 6, held by 3 + 3 connections. Shard 1 is refused in stage 1, stops (each deployed worker stops on
    // its own failures) and starts closing its 3 at 6000 ms; its busy process reads the server's answers at
    // 6400 ms. Shard 0 goes on to stage 2 and gets the freed places at 6100-6140 ms. Counting shard 1's
    // connections until 6400 ms would show 9 open where the target held 6: a rise read as a rate limit.
    const stages = stagesOf([6, 12, 18], 1000, 2000);
    const closing = {
      at: 6400,
      probeClosingAt: T0 + 6000,
      closedBy: 'probe' as const,
      code: 1000,
      frameReceived: true,
    };
    const shardA = shardOf([...openMany(0, 3, 0, 20), ...openMany(2, 3, 6100, 20)], 3);
    const shardB = {
      ...shardOf(
        [
          ...[0, 20, 40].map((at) => ({ ...opened(0, 100 + at, closing), shard: 1 })),
          ...Array.from({ length: 6 }, (_, i) => ({ ...refused(1, 3005 + i * 20, 503), shard: 1 })),
        ],
        2,
      ),
      shard: 1,
    };
    const analysis = analyzeRun(input([shardA, shardB], { plan: planOf(stages) }));
    expect(analysis.limitingFactor?.kind).toBe('concurrency-cap');
    expect(analysis.limitingFactor?.summary).toContain('Concurrency cap at 6');
    expect(analysis.dropOnset).toBe(6);
  });

  it('merges shards into one global open count', () => {
    const shardA = capRecords().filter((_, i) => i % 2 === 0);
    const shardB = capRecords()
      .filter((_, i) => i % 2 === 1)
      .map((record) => ({ ...record, shard: 1 }));
    const analysis = analyzeRun(input([shardOf(shardA, 4), { ...shardOf(shardB, 4), shard: 1 }]));
    expect(analysis.ceiling).toEqual({ value: 150, reached: true });
    expect(analysis.dropOnset).toBe(150);
  });

  it('fails a run in which every upgrade was refused before any opened, never a cap at 0', () => {
    const records = Array.from({ length: 5 }, (_, i) => refused(0, i * 20, 500));
    const analysis = analyzeRun(input([shardOf(records, 1)]));
    expect(analysis.verdict).toBe('failed');
    expect(analysis.ceiling).toEqual({ value: null, reached: false });
    expect(analysis.dropOnset).toBeNull();
    expect(analysis.limitingFactor?.kind).toBe('unreachable');
    expect(analysis.limitingFactor?.summary).toBe(
      'ws://127.0.0.1:1/ refused every upgrade (5 × HTTP 500) before any connection opened: check that the target ' +
        'is up and serves WebSocket there. Nothing was measured; this is a probe failure, not a ceiling.',
    );
  });

  it('fails a run answered with a web page as not a WebSocket endpoint', () => {
    const analysis = analyzeRun(input([shardOf([refused(0, 0, 200)], 0)]));
    expect(analysis.verdict).toBe('failed');
    expect(analysis.limitingFactor?.kind).toBe('config-error');
    expect(analysis.limitingFactor?.summary).toContain('answers HTTP 200 without upgrading: not a WebSocket endpoint');
  });

  it('fails a run whose server answers with bytes that are not HTTP as not an HTTP server', () => {
    const notHttp = { ...connectError(0, 0, 'HPE_INVALID_CONSTANT'), errorMessage: 'Parse Error: Expected HTTP/' };
    const analysis = analyzeRun(input([shardOf([notHttp], 0)]));
    expect(analysis.verdict).toBe('failed');
    expect(analysis.limitingFactor?.summary).toContain(
      'answers with bytes that are not HTTP (Parse Error: Expected HTTP/): not an HTTP server',
    );
    expect(analysis.limitingFactor?.summary).not.toContain('reach');
  });

  it("fails a run whose server broke the protocol after the upgrade as a protocol error with ws's message", () => {
    const protocolError = 'Invalid WebSocket frame: RSV2 and RSV3 must be clear';
    const records = [
      ...openMany(0, 10, 0, 20),
      opened(0, 300, { at: 900, code: 1002, frameReceived: false, protocolError }),
    ];
    const analysis = analyzeRun(input([shardOf(records, 0)]));
    expect(analysis.verdict).toBe('failed');
    expect(analysis.limitingFactor?.kind).toBe('config-error');
    expect(analysis.limitingFactor?.summary).toContain(
      `The server broke the WebSocket protocol after the upgrade, at 11 open connections (${protocolError}; the ` +
        'probe closed with 1002)',
    );
    expect(analysis.limitingFactor?.summary).not.toContain('degradation');
  });

  it('never says "even with heartbeats" of closes that came before any heartbeat was due', () => {
    // Pings every 20 s; the server closes every connection with 1008 one second after it opened.
    const records = Array.from({ length: 5 }, (_, i) => opened(0, i * 20, { at: i * 20 + 1000, code: 1008 }));
    const analysis = analyzeRun(input([shardOf(records, 0)], { plan: planOf(stagesOf([5], 100, 2000)) }));
    expect(analysis.verdict).toBe('inconclusive');
    expect(analysis.limitingFactor?.kind).toBe('idle-timeout');
    expect(analysis.limitingFactor?.summary).toContain('No heartbeat was due before these closes');
    expect(analysis.limitingFactor?.summary).toContain('A close with code 1008 comes from the application');
    expect(analysis.limitingFactor?.summary).not.toContain('even with heartbeats');
  });

  it('adds up the stage table of a stopped run: the stage it stopped in ends when it stopped', () => {
    // 20 connections open in the first 0.4 s; Ctrl-C at 1 s; the probe closes them all after that.
    const records = Array.from({ length: 20 }, (_, i) => opened(0, i * 20, { at: 1100, closedBy: 'probe' }));
    const aborted = { failureClass: 'interrupted' as const, message: 'stopped by SIGINT' };
    const analysis = analyzeRun(input([shardOf(records, 0, { aborted, stoppedAt: T0 + 1000 })]));
    expect(analysis.stages.map(({ opened: count, openAtEnd, failed }) => [count, openAtEnd, failed])).toEqual([
      [20, 20, 0],
    ]);
  });

  it('adds up the stage table of a run stopped by a failure that other drops raced', () => {
    // Five open; a protocol error stops the run at 1 s; three more come in before the probe closes the last one.
    const protocolError = 'Invalid WebSocket frame: invalid status code 1004';
    const drop = (at: number) => ({ at, code: 1002, frameReceived: false, protocolError });
    const records = [
      ...[1000, 1001, 1002, 1003].map((at, i) => opened(0, i * 20, drop(at))),
      opened(0, 80, { at: 1010, code: 1000, frameReceived: true, closedBy: 'probe' }),
    ];
    const aborted = { failureClass: 'config-error' as const, message: 'config-error: protocol error' };
    const analysis = analyzeRun(input([shardOf(records, 0, { aborted, stoppedAt: T0 + 1000 })]));
    expect(analysis.stages.map(({ opened: count, openAtEnd, failed }) => [count, openAtEnd, failed])).toEqual([
      [5, 1, 4],
    ]);
  });

  it('counts the connections a stage opened while it waited for its pending handshakes after its hold', () => {
    // Stage 1 (10) holds until 3 s; two of its handshakes complete only at 3.5 s, before stage 2 starts.
    const records = [...openMany(0, 8, 0, 20), opened(0, 3500), opened(0, 3500)];
    const analysis = analyzeRun(input([shardOf(records, 1)], { plan: planOf(stagesOf([10, 20], 1000, 2000)) }));
    expect(analysis.stages[0]).toMatchObject({ opened: 10, openAtEnd: 10, failed: 0, held: true });
  });
});
