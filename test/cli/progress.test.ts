import { describe, expect, it } from 'vitest';
import { formatProgress, ProgressTracker } from '../../bin/cli/progress.js';
import { opened, planOf, refused, stagesOf } from '../support/records.js';

const twoShardPlan = () => {
  const plan = planOf(stagesOf([10, 20], 100, 100));
  return { ...plan, shards: [plan.shards[0]!, { ...plan.shards[0]!, index: 1 }] };
};

describe('ProgressTracker', () => {
  it('reports a stage as ended only when every shard has ended it', () => {
    const tracker = new ProgressTracker(twoShardPlan());
    tracker.onEvent({ type: 'stage-started', shard: 0, stage: 0 });
    expect(tracker.onEvent({ type: 'stage-ended', shard: 0, stage: 0 })).toBe(false);
    expect(tracker.onEvent({ type: 'stage-ended', shard: 1, stage: 0 })).toBe(true);
    expect(tracker.currentStageEnded).toBe(true);
    tracker.onEvent({ type: 'stage-started', shard: 1, stage: 1 });
    expect(tracker.currentStageEnded).toBe(false);
  });

  it('counts open connections, the failures the shards classified and the current stage’s handshake p95', () => {
    const tracker = new ProgressTracker(twoShardPlan());
    tracker.onEvent({ type: 'stage-started', shard: 0, stage: 1 });
    for (const record of [opened(1, 10), opened(1, 20), opened(1, 30, { at: 90 })])
      tracker.onEvent({ type: 'settled', record });
    tracker.onEvent({ type: 'closed', record: opened(1, 30, { at: 90 }), failureClass: 'abnormal-closure' });
    tracker.onEvent({ type: 'settled', record: refused(1, 40, 503), failureClass: 'handshake-rejected' });
    expect(formatProgress(tracker.snapshot())).toBe(
      'stage 2/2 → 20 · open 2 · failed abnormal-closure 1, handshake-rejected 1 · handshake p95 1.0 ms',
    );
  });
});
