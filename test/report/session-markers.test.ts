// Failed sessions on the report's timeline chart: each class has its own marker (a diamond, apart from refused
// upgrades and drops), hover names the close code or the key, and the legend counts each kind.
import { describe, expect, it } from 'vitest';
import { analyzeRun } from '../../functions/engine/analysis.js';
import { renderTimelineChart } from '../../functions/report/timeline-chart.js';
import { openMany, planOf, sessionRejected, setupFailed, shardOf, stagesOf, T0 } from '../support/records.js';

const stages = stagesOf([40, 80], 1000, 2000);

describe('the timeline chart of failed sessions', () => {
  it('marks rejected sessions and failed set-ups with diamonds and names each kind in the legend', () => {
    const records = [
      ...openMany(0, 40, 0, 20),
      ...Array.from({ length: 3 }, (_, i) =>
        sessionRejected(1, 3000 + i * 20, { reason: 'closed', afterMs: 2, closeCode: 4429 }),
      ),
      sessionRejected(1, 3100, { reason: 'ready-timeout', afterMs: 2000 }),
      setupFailed(1, 3200, { reason: 'timeout' }),
    ];
    const analysis = analyzeRun({
      plan: planOf(stages),
      shards: [shardOf(records, 2)],
      tolerance: { kind: 'count', value: 0 },
      heartbeat: 'ping',
      url: 'ws://127.0.0.1:1/',
    });
    const chart = renderTimelineChart({
      ...analysis,
      startedAt: new Date(T0).toISOString(),
      finishedAt: new Date(T0 + 6000).toISOString(),
      settings: { handshakeTimeoutSeconds: 10, session: { initMessages: 1, readyTimeoutSeconds: 2 } },
    }).markup;
    expect(chart.split('class="failure-marker" data-class="session-rejected"').length - 1).toBe(4);
    expect(chart.split('class="failure-marker" data-class="session-setup"').length - 1).toBe(1);
    // A diamond: four corners, no arc (a circle) and no flat top (a triangle).
    expect(chart).toMatch(
      /data-class="session-rejected" d="M[\d.]+ [\d.]+ L[\d.]+ [\d.]+ L[\d.]+ [\d.]+ L[\d.]+ [\d.]+ Z"/,
    );
    expect(chart).toContain('session-rejected · close 4429 × 3</text>');
    expect(chart).toContain('session-rejected · ready timeout × 1, marked when the 2 s ready timeout ran out</text>');
    expect(chart).toContain('session-setup · timeout × 1</text>');
    expect(chart).toMatch(/<title>session-rejected, ready timeout at [\d.]+ s, 40 open<\/title>/);
  });
});
