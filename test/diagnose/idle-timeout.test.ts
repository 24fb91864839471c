import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { runPlanShards } from '../../bin/cli/local-shards.js';
import { ProbeLedger, type ExperimentContext, type PlanRunner } from '../../functions/diagnose/experiment-probe.js';
import { heartbeatGroups, judgeHeartbeatGroups, runIdleTimeout } from '../../functions/diagnose/idle-timeout.js';
import type { ProbeSettings } from '../../functions/engine/types.js';
import { startTargetSimulator } from '../../functions/simulator/target-simulator.js';
import { diagnoseDependencies, rampSettings } from '../support/diagnose-ramp.js';
import { opened } from '../support/records.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function contextFor(url: string, overrides: Partial<ProbeSettings> = {}): ExperimentContext {
  return {
    ...diagnoseDependencies(),
    settings: rampSettings(url, { stages: [15], connectRate: 200, ...overrides }),
    budgetSeconds: 60,
    ledger: new ProbeLedger(),
  };
}

/** A WebSocket server whose idle timer only application messages reset, not protocol pings. */
async function messageOnlyIdleServer(idleSeconds: number): Promise<string> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const sockets = new Set<WebSocket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    let timer = setTimeout(() => socket.terminate(), idleSeconds * 1000);
    socket.on('message', () => {
      clearTimeout(timer);
      timer = setTimeout(() => socket.terminate(), idleSeconds * 1000);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      sockets.delete(socket);
    });
  });
  cleanups.push(() => {
    for (const socket of sockets) socket.terminate();
    return new Promise((resolve) => server.close(resolve));
  });
  await new Promise((resolve) => server.once('listening', resolve));
  return `ws://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('heartbeatGroups', () => {
  it('tries no heartbeat, a protocol ping and an application message, both at half the suspected timeout', () => {
    expect(heartbeatGroups(45, { kind: 'off' })).toEqual([
      { kind: 'off' },
      { kind: 'ping', intervalSeconds: 22.5, pongTimeoutSeconds: 10 },
      { kind: 'message', intervalSeconds: 22.5, payload: 'ping' },
    ]);
    expect(heartbeatGroups(2, { kind: 'message', intervalSeconds: 20, payload: '{"op":"hb"}' })[2]).toEqual({
      kind: 'message',
      intervalSeconds: 1,
      payload: '{"op":"hb"}',
    });
  });
});

describe('judgeHeartbeatGroups', () => {
  const closedAt = (ageMs: number) => opened(0, 0, { at: ageMs });
  const keptOpen = () => opened(0, 0, { at: 5000, closedBy: 'probe', code: 1000, frameReceived: true });

  it('takes the idle timeout from the silent group when a heartbeat group stayed open', () => {
    const verdict = judgeHeartbeatGroups([
      { heartbeat: { kind: 'off' }, records: [closedAt(2010), closedAt(2030), closedAt(2020)] },
      {
        heartbeat: { kind: 'ping', intervalSeconds: 1, pongTimeoutSeconds: 10 },
        records: [closedAt(2015), closedAt(2040), keptOpen()],
      },
      {
        heartbeat: { kind: 'message', intervalSeconds: 1, payload: 'ping' },
        records: [keptOpen(), keptOpen(), keptOpen()],
      },
    ]);
    expect(verdict).toEqual({
      kind: 'idle-timeout',
      seconds: 2.02,
      groups: [
        { heartbeat: 'off', intervalSeconds: null, kept: 0, of: 3, closedAfterSeconds: 2.02 },
        { heartbeat: 'ping', intervalSeconds: 1, kept: 1, of: 3, closedAfterSeconds: 2.02 },
        { heartbeat: 'message', intervalSeconds: 1, kept: 3, of: 3, closedAfterSeconds: null },
      ],
    });
  });

  it('calls every group closing at one age a maximum lifetime', () => {
    const groups = (['off', 'ping', 'message'] as const).map((kind) => ({
      heartbeat:
        kind === 'off'
          ? { kind }
          : kind === 'ping'
            ? { kind, intervalSeconds: 1, pongTimeoutSeconds: 10 }
            : { kind, intervalSeconds: 1, payload: 'ping' },
      records: [closedAt(3000), closedAt(3050)],
    }));
    expect(judgeHeartbeatGroups(groups)).toMatchObject({ kind: 'max-lifetime', seconds: 3 });
  });

  it('finds nothing when nothing closed', () => {
    expect(judgeHeartbeatGroups([{ heartbeat: { kind: 'off' }, records: [keptOpen()] }]).kind).toBe('none');
  });
});

describe('runIdleTimeout', () => {
  it(
    "reports the simulator's idle timeout within 0.5 s and that a ping or a message every 0.5 s keeps " +
      'connections alive',
    async () => {
      const target = await startTargetSimulator({ idleTimeoutSeconds: 1 });
      cleanups.push(() => target.stop());
      const findings = await runIdleTimeout(contextFor(target.url), 1);
      expect(findings).toHaveLength(1);
      const finding = findings[0];
      if (finding?.kind !== 'idle-timeout') throw new Error(`expected an idle timeout, got ${finding?.sentence}`);
      expect(Math.abs(finding.values.seconds - 1)).toBeLessThanOrEqual(0.5);
      expect(finding.values.groups).toEqual([
        { heartbeat: 'off', intervalSeconds: null, kept: 0, of: 5, closedAfterSeconds: finding.values.seconds },
        { heartbeat: 'ping', intervalSeconds: 0.5, kept: 5, of: 5, closedAfterSeconds: null },
        { heartbeat: 'message', intervalSeconds: 0.5, kept: 5, of: 5, closedAfterSeconds: null },
      ]);
      expect(finding.sentence).toBe(
        'Idle timeout of 1.0 s (5 of 5 connections without heartbeat closed 1.0 s after their last frame); a ' +
          'protocol ping every 0.5 s and an application message every 0.5 s kept their connections alive.',
      );
      expect(target.stats().idleTimeouts).toBe(5);
    },
  );

  it('tells a gateway that only application messages keep alive from one that counts pings too', async () => {
    const url = await messageOnlyIdleServer(1);
    const findings = await runIdleTimeout(contextFor(url), 1);
    const finding = findings[0];
    if (finding?.kind !== 'idle-timeout') throw new Error(`expected an idle timeout, got ${finding?.sentence}`);
    expect(finding.values.groups.map((group) => [group.heartbeat, group.kept])).toEqual([
      ['off', 0],
      ['ping', 0],
      ['message', 5],
    ]);
    expect(finding.sentence).toContain(
      'an application message every 0.5 s kept its connections alive; a protocol ping every 0.5 s did not (5 of ' +
        '5 closed)',
    );
  });

  it(
    "is probe-limited, never an idle timeout, when the probe's event loop was blocked while the groups were " + 'held',
    async () => {
      const target = await startTargetSimulator({ idleTimeoutSeconds: 1 });
      cleanups.push(() => target.stop());
      // Three 600 ms stalls of this process's event loop while the groups are held (2.5 s): its p99 delay is then over
      // 500 ms.
      const blocking: PlanRunner = (request) => {
        const stalls = [400, 1100, 1800].map((delay) =>
          setTimeout(() => {
            const until = Date.now() + 600;
            while (Date.now() < until);
          }, delay),
        );
        return runPlanShards(request).finally(() => stalls.forEach(clearTimeout));
      };
      const findings = await runIdleTimeout({ ...contextFor(target.url), runPlan: blocking }, 1);
      expect(findings.map((finding) => finding.kind)).toEqual(['probe-limited']);
      expect(findings[0]?.sentence).toMatch(/^In the idle-timeout experiment: The probe's event loop was starved/);
    },
  );
});
