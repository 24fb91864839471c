import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { runPlanShards } from '../../bin/cli/local-shards.js';
import { ProbeLedger, type ExperimentContext, type PlanRunner } from '../../functions/diagnose/experiment-probe.js';
import { judgeStep, narrowGap, nextCount, runRefinement } from '../../functions/diagnose/refinement.js';
import type { ProbeSettings } from '../../functions/engine/types.js';
import { startTargetSimulator } from '../../functions/simulator/target-simulator.js';
import { diagnoseDependencies, rampAgainst } from '../support/diagnose-ramp.js';
import { openMany, opened, refused, stagesOf } from '../support/records.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Ramps against `url`, then refines from the first failing stage; `sessions` counts the plans the refinement ran. */
async function rampThenRefine(
  url: string,
  overrides: Partial<ProbeSettings>,
  resolution = 1,
  context: Partial<ExperimentContext> = {},
) {
  const ramp = await rampAgainst(url, overrides);
  const failing = ramp.run.stages.find((stage) => !stage.held);
  const failingStage = ramp.plan.stages[failing?.index ?? -1];
  if (!failingStage || ramp.run.ceiling.value === null) throw new Error(`no coarse ceiling: ${ramp.run.verdictReason}`);
  const sessions = { count: 0 };
  const runPlan = context.runPlan ?? runPlanShards;
  const counted: PlanRunner = (request) => {
    sessions.count += 1;
    return runPlan(request);
  };
  const full = {
    ...diagnoseDependencies(),
    settings: ramp.settings,
    budgetSeconds: 60,
    ledger: new ProbeLedger(),
    ...context,
    runPlan: counted,
  };
  const records = ramp.shards.flatMap((shard) => shard.records);
  return {
    ramp,
    sessions,
    findings: await runRefinement(full, {
      records,
      stages: ramp.plan.stages,
      failingStage,
      lastHeld: ramp.run.ceiling.value,
      resolution,
    }),
  };
}

/**
 * A WebSocket server that accepts every upgrade but closes connections beyond
 * `limit` with 1013 after 100 ms; `refuseNext()` makes it refuse the next
 * upgrade with 503 and Retry-After: 1. `arrivals` records every upgrade.
 */
async function sheddingServer(limit: number): Promise<string> {
  return (await sheddingTarget(limit)).url;
}

async function sheddingTarget(
  limit: number,
): Promise<{ url: string; refuseNext: () => void; arrivals: { at: number; refused: boolean }[] }> {
  let refuse = false;
  const arrivals: { at: number; refused: boolean }[] = [];
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (_info, accept) => {
      arrivals.push({ at: Date.now(), refused: refuse });
      if (!refuse) return accept(true);
      refuse = false;
      accept(false, 503, 'Service Unavailable', { 'Retry-After': '1' });
    },
  });
  const open = new Set<WebSocket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    if (open.size > limit) setTimeout(() => socket.close(1013, 'overloaded'), 100);
  });
  cleanups.push(() => {
    for (const socket of open) socket.terminate();
    return new Promise((resolve) => server.close(resolve));
  });
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as { port: number }).port}`,
    refuseNext: () => (refuse = true),
    arrivals,
  };
}

describe('judgeStep', () => {
  const stages = stagesOf([20, 40], 200, 1000);

  it('takes refusals at N with N held to the end as: N held, N + 1 fails', () => {
    const records = [
      ...openMany(0, 20, 0, 10),
      ...openMany(1, 13, 1200, 5),
      ...Array.from({ length: 7 }, (_, i) => refused(1, 1270 + i * 5, 503)),
    ];
    expect(judgeStep(records, stages, stages[1]!, 0)).toEqual({ held: 33, failsAt: 34 });
  });

  it('takes a drop as a failure at the count open when it came, and proves nothing held', () => {
    const records = [
      ...openMany(0, 20, 0, 10),
      ...openMany(1, 19, 1200, 5),
      opened(1, 1295, { at: 1600, code: 1013, frameReceived: true }),
    ];
    expect(judgeStep(records, stages, stages[1]!, 0)).toEqual({ held: null, failsAt: 40 });
  });

  it('takes a stage without failures as held at its open count', () => {
    expect(judgeStep(openMany(0, 20, 0, 10), stages, stages[0]!, 0)).toEqual({ held: 20, failsAt: null });
  });
});

describe('narrowGap', () => {
  it('raises the held end, lowers the failing end, and refuses a contradiction', () => {
    expect(narrowGap({ lo: 20, hi: 40 }, { held: 33, failsAt: 34 })).toEqual({ lo: 33, hi: 34 });
    expect(narrowGap({ lo: 20, hi: 40 }, { held: null, failsAt: 35 })).toEqual({ lo: 20, hi: 35 });
    expect(narrowGap({ lo: 20, hi: 40 }, { held: 36, failsAt: 31 })).toBeUndefined();
  });
});

describe('nextCount', () => {
  it('bisects the gap on the resolution grid, never reaching the failing end', () => {
    expect(nextCount({ lo: 20, hi: 40 }, 1)).toBe(30);
    expect(nextCount({ lo: 30, hi: 35 }, 1)).toBe(33);
    expect(nextCount({ lo: 800, hi: 1000 }, 25)).toBe(900);
    expect(nextCount({ lo: 33, hi: 35 }, 1)).toBe(34);
  });
});

describe('runRefinement', () => {
  it(
    'refines a coarse cap (stages 10, 20, 40 with a cap of 33) to exactly 33 from the ramp alone, with no extra ' +
      'probe-seconds',
    async () => {
      const target = await startTargetSimulator({ cap: { limit: 33, response: { kind: 'status', status: 503 } } });
      cleanups.push(() => target.stop());
      const { ramp, findings } = await rampThenRefine(target.url, {
        stages: [10, 20, 40],
        connectRate: 200,
        holdSeconds: 0.3,
      });
      expect(ramp.run.ceiling.value).toBe(20);
      expect(findings).toEqual([
        expect.objectContaining({
          kind: 'exact-ceiling',
          values: { value: 33, failsAt: 34, resolution: 1, steps: 0 },
          probeSeconds: 0,
        }),
      ]);
    },
  );

  it(
    'bisects the gap by adding connections to the last good level when drops hide the count (a server shedding ' +
      'above 33)',
    async () => {
      const url = await sheddingServer(33);
      const { ramp, findings, sessions } = await rampThenRefine(url, {
        stages: [10, 20, 40],
        connectRate: 200,
        holdSeconds: 0.4,
      });
      expect(ramp.run.limitingFactor?.kind).toBe('server-degradation');
      expect(ramp.run.ceiling.value).toBe(20);
      const finding = findings[0];
      if (finding?.kind !== 'exact-ceiling') throw new Error(`expected an exact ceiling, got ${finding?.sentence}`);
      expect(finding.values).toEqual({ value: 33, failsAt: 34, resolution: 1, steps: 4 });
      expect(finding.evidence.steps).toEqual([
        'ramp: held 20, failed at 40',
        'step 1: 30 connections held',
        'step 2: 35 connections failed at 35',
        'step 3: 33 connections held',
        'step 4: 34 connections failed at 34',
      ]);
      // One session: the last good level reopened once, then four steps added to it, never a re-ramp from zero per
      // step.
      expect(sessions.count).toBe(1);
      expect(finding.probeSeconds).toBeGreaterThan(1.6);
      expect(finding.sentence).toMatch(
        /^Exact ceiling of 33 connections \(33 held for the whole hold and 34 did not, to 1 connection; 4 refinement steps, [\d.]+ probe-seconds\)\.$/,
      );
    },
  );

  it('stops at a coarser resolution when asked', async () => {
    const url = await sheddingServer(33);
    const { findings } = await rampThenRefine(url, { stages: [10, 20, 40], connectRate: 200, holdSeconds: 0.3 }, 5);
    expect(findings[0]).toMatchObject({
      kind: 'exact-ceiling',
      values: { value: 30, failsAt: 35, resolution: 5, steps: 2 },
    });
  });

  it('says it was the experiment budget that stopped it, and how to go on', async () => {
    const url = await sheddingServer(33);
    const { findings } = await rampThenRefine(url, { stages: [10, 20, 40], connectRate: 200, holdSeconds: 0.4 }, 1, {
      budgetSeconds: 1.2,
    });
    expect(findings.map((finding) => finding.kind)).toEqual(['undetermined']);
    expect(findings[0]?.sentence).toMatch(
      /^The refinement experiment could not decide \(stopped with the ceiling between \d+ and \d+: the next step would take longer than is left of the experiment budget of 1\.2 s \(--experiment-budget\); raise it, or give a coarser --resolution\)\.$/,
    );
  });

  it("is probe-limited, never an exact ceiling, when the probe's event loop was starved while it refined", async () => {
    const url = await sheddingServer(33);
    const starved: PlanRunner = async (request) =>
      (await runPlanShards(request)).map((shard) => ({
        ...shard,
        loopDelay: [...shard.loopDelay, { stage: 1, p99Ms: 700, maxMs: 900 }],
      }));
    const { findings } = await rampThenRefine(url, { stages: [10, 20, 40], connectRate: 200, holdSeconds: 0.3 }, 1, {
      runPlan: starved,
    });
    expect(findings.map((finding) => finding.kind)).toEqual(['probe-limited']);
    expect(findings[0]?.sentence).toMatch(
      /^In the refinement experiment: The probe's event loop was starved \(p99 delay 700 ms, up to 900 ms; 500 ms or more is starved\)/,
    );
  });

  it('waits out a Retry-After it receives before the next upgrade', async () => {
    const target = await sheddingTarget(33);
    const ramp = await rampAgainst(target.url, { stages: [10, 20, 40], connectRate: 200, holdSeconds: 0.3 });
    const failingStage = ramp.plan.stages[ramp.run.stages.find((stage) => !stage.held)?.index ?? -1];
    if (!failingStage) throw new Error('the ramp did not fail');
    // The refinement reopens the last good level (20), then its first step adds connections: the first of those is
    // refused.
    let opened = 0;
    const runPlan: PlanRunner = (request) =>
      runPlanShards({
        ...request,
        onEvent: (event) => {
          request.onEvent?.(event);
          if (event.type === 'settled' && event.record.outcome === 'opened' && (opened += 1) === 20)
            target.refuseNext();
        },
      });
    const started = Date.now();
    const context = {
      ...diagnoseDependencies(),
      settings: ramp.settings,
      budgetSeconds: 60,
      ledger: new ProbeLedger(),
      runPlan,
    };
    await runRefinement(context, {
      records: ramp.shards.flatMap((shard) => shard.records),
      stages: ramp.plan.stages,
      failingStage,
      lastHeld: 20,
      resolution: 1,
    });
    const during = target.arrivals.filter((arrival) => arrival.at >= started);
    const refusal = during.findIndex((arrival) => arrival.refused);
    expect(refusal).toBe(20);
    const next = during[refusal + 1];
    expect(next).toBeDefined();
    expect((next?.at ?? 0) - (during[refusal]?.at ?? 0)).toBeGreaterThanOrEqual(950);
  });
});
