import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { ProbeLedger } from '../functions/diagnose/experiment-probe.js';
import { judgeStep, narrowGap, nextCount, runRefinement } from '../functions/diagnose/refinement.js';
import type { ProbeSettings } from '../functions/engine/types.js';
import { startTargetSimulator } from '../functions/simulator/target-simulator.js';
import { diagnoseDependencies, rampAgainst } from './support/diagnose-ramp.js';
import { openMany, opened, refused, stagesOf } from './support/records.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Ramps against `url`, then refines from the first failing stage. */
async function rampThenRefine(url: string, overrides: Partial<ProbeSettings>, resolution = 1) {
  const ramp = await rampAgainst(url, overrides);
  const failing = ramp.run.stages.find((stage) => !stage.held);
  const failingStage = ramp.plan.stages[failing?.index ?? -1];
  if (!failingStage || ramp.run.ceiling.value === null) throw new Error(`no coarse ceiling: ${ramp.run.verdictReason}`);
  const context = { ...diagnoseDependencies(), settings: ramp.settings, budgetSeconds: 60, ledger: new ProbeLedger() };
  const records = ramp.shards.flatMap((shard) => shard.records);
  return { ramp, findings: await runRefinement(context, { records, stages: ramp.plan.stages, failingStage, lastHeld: ramp.run.ceiling.value, resolution }) };
}

/** A WebSocket server that accepts every upgrade but closes connections beyond `limit` with 1013 after 100 ms. */
async function sheddingServer(limit: number): Promise<string> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
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
  return `ws://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('judgeStep', () => {
  const stages = stagesOf([20, 40], 200, 1000);

  it('takes refusals at N with N held to the end as: N held, N + 1 fails', () => {
    const records = [...openMany(0, 20, 0, 10), ...openMany(1, 13, 1200, 5), ...Array.from({ length: 7 }, (_, i) => refused(1, 1270 + i * 5, 503))];
    expect(judgeStep(records, stages, stages[1]!, 0)).toEqual({ held: 33, failsAt: 34 });
  });

  it('takes a drop as a failure at the count open when it came, and proves nothing held', () => {
    const records = [...openMany(0, 20, 0, 10), ...openMany(1, 19, 1200, 5), opened(1, 1295, { at: 1600, code: 1013, frameReceived: true })];
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
  it('refines a coarse cap (stages 10, 20, 40 with a cap of 33) to exactly 33 from the ramp alone, with no extra probe-seconds', async () => {
    const target = await startTargetSimulator({ cap: { limit: 33, response: { kind: 'status', status: 503 } } });
    cleanups.push(() => target.stop());
    const { ramp, findings } = await rampThenRefine(target.url, { stages: [10, 20, 40], connectRate: 200, holdSeconds: 0.3 });
    expect(ramp.run.ceiling.value).toBe(20);
    expect(findings).toEqual([expect.objectContaining({ kind: 'exact-ceiling', values: { value: 33, failsAt: 34, resolution: 1, steps: 0 }, probeSeconds: 0 })]);
  });

  it('bisects the gap by adding connections to the last good level when drops hide the count (a server shedding above 33)', async () => {
    const url = await sheddingServer(33);
    const { ramp, findings } = await rampThenRefine(url, { stages: [10, 20, 40], connectRate: 200, holdSeconds: 0.4 });
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
    // Four holds of 0.4 s after reopening the last good level once: never a re-ramp from zero per step.
    expect(finding.probeSeconds).toBeGreaterThan(1.6);
    expect(finding.probeSeconds).toBeLessThan(6);
    expect(finding.sentence).toMatch(/^Exact ceiling of 33 connections \(33 held for the whole hold and 34 did not, to 1 connection; 4 refinement steps, [\d.]+ probe-seconds\)\.$/);
  });

  it('stops at a coarser resolution when asked', async () => {
    const url = await sheddingServer(33);
    const { findings } = await rampThenRefine(url, { stages: [10, 20, 40], connectRate: 200, holdSeconds: 0.3 }, 5);
    expect(findings[0]).toMatchObject({ kind: 'exact-ceiling', values: { value: 30, failsAt: 35, resolution: 5, steps: 2 } });
  });
});
