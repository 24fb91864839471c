import { describe, expect, it } from 'vitest';
import { EXECUTION_HISTORY_EVENT_LIMIT, INLINE_MAP_MAX_CONCURRENCY } from '../../functions/config/aws-limits.js';
import { regionStarts, runSpacingMinutes, worstCaseRunSeconds } from '../../functions/config/region-starts.js';
import { executionHistoryEvents } from '../../functions/config/run-limits.js';
import { parseConfig, parseTargetConfig } from '../../functions/config/target-config.js';
import { InvalidInputError } from '../../functions/engine/errors.js';

/** A target in the config file's form, with `fields` over a small valid one. */
function target(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'chat',
    url: 'wss://chat.example.com/socket',
    regions: ['eu-west-1'],
    schedule: { cron: '0 2 * * ? *', timeZone: 'UTC' },
    ...fields,
  };
}

/** The InvalidInputError parsing `fields` as a target throws. */
function refusal(fields: Record<string, unknown>): InvalidInputError {
  try {
    parseTargetConfig(target(fields), 'test');
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error('expected the target to be refused');
}

describe('the limits a deployed run must fit', () => {
  it('names holdSeconds when the holds make a plan too long for one worker Lambda, and what would fit', () => {
    const error = refusal({ plan: { stages: [500, 1000, 1500, 2000], holdSeconds: 300, connectRate: 100 } });
    expect(error.field).toBe('plan.holdSeconds');
    expect(error.message).toContain('4 stages take 1220 s (ramps at connectRate 100/s: 20 s; holds of 300 s: 1200 s)');
    expect(error.message).toContain('shorten holdSeconds to at most 208 s or plan fewer stages');
  });

  it('names connectRate when slow ramps make it too long, with the rate that would fit beside the holds', () => {
    const error = refusal({ plan: { stages: [500, 1000, 1500, 2000], holdSeconds: 60, connectRate: 2 } });
    expect(error.field).toBe('plan.connectRate');
    expect(error.message).toContain('raise connectRate to at least 3.3');
    // At that rate the same plan fits.
    expect(() =>
      parseTargetConfig(target({ plan: { stages: [500, 1000, 1500, 2000], holdSeconds: 60, connectRate: 3.3 } }), 't'),
    ).not.toThrow();
  });

  it('refuses more workers than a Distributed Map starts at once, naming shardSize', () => {
    const error = refusal({
      plan: { stages: [20_000], holdSeconds: 10, connectRate: 2000, shardSize: 1, maxConnections: 20_000 },
    });
    expect(error.field).toBe('plan.shardSize');
    expect(error.message).toContain('makes 20000 workers, but Step Functions starts at most 10000 at once');
  });

  it('counts the history events of an execution: an inline map adds its iterations, a distributed one does not', () => {
    expect(executionHistoryEvents(1)).toBe(69);
    expect(executionHistoryEvents(INLINE_MAP_MAX_CONCURRENCY)).toBe(60 + 9 * 40);
    expect(executionHistoryEvents(INLINE_MAP_MAX_CONCURRENCY + 1)).toBe(60);
    expect(executionHistoryEvents(INLINE_MAP_MAX_CONCURRENCY)).toBeLessThan(EXECUTION_HISTORY_EVENT_LIMIT);
  });

  it('refuses a run state over what a run may use of a state, with the stages that would fit', () => {
    const plan = { stages: [10_000, 20_000, 30_000, 40_000, 50_000, 60_000, 70_000, 80_000, 90_000, 100_000] };
    const error = refusal({ plan: { ...plan, holdSeconds: 10, connectRate: 2000, maxConnections: 100_000 } });
    expect(error.field).toBe('plan.stages');
    expect(error.message).toMatch(
      /^plan\.stages: 10 stages over 112 workers make a run state of about \d+ KB, above the 243 KB/,
    );
    expect(error.message).toMatch(/plan at most [1-6] stages, or fewer connections/);
    // With fewer workers (a larger shardSize) the same stages fit: the message says so.
    const narrow = refusal({
      plan: {
        stages: [6000, 12_000, 18_000, 24_000, 30_000, 36_000, 42_000],
        shardSize: 300,
        holdSeconds: 10,
        connectRate: 2000,
        maxConnections: 42_000,
      },
    });
    expect(narrow.message).toContain('raise shardSize to 900 (fewer workers)');
  });

  it('refuses a reserved concurrency under the workers a run starts at once', () => {
    const error = refusal({ plan: { stages: [1000, 2000] }, reservedConcurrency: 2 });
    expect(error.field).toBe('reservedConcurrency');
    expect(error.message).toBe(
      'reservedConcurrency: 2 is under the 3 workers a run starts at once, so 1 of them would be throttled and ' +
        'the run could not claim a ceiling; reserve at least 3, or leave it out (in test)',
    );
    expect(parseTargetConfig(target({ plan: { stages: [1000, 2000] }, reservedConcurrency: 3 }), 't')).toMatchObject({
      reservedConcurrency: 3,
    });
  });
});

describe('schedules (issue 11, case 12)', () => {
  it('refuses a cron that can never fire again: a year field in the past, or a day that never comes', () => {
    const past = refusal({ schedule: { cron: '0 2 * * ? 2020', timeZone: 'UTC' } });
    expect(past.field).toBe('schedule.cron');
    expect(past.message).toBe(
      'schedule.cron: "0 2 * * ? 2020" never fires again in UTC (its year field ends in 2020): give a year field ' +
        'of * or one that is still to come (in test)',
    );
    const never = refusal({ schedule: { cron: '0 2 30 2 ? *', timeZone: 'UTC' } });
    expect(never.message).toContain('"0 2 30 2 ? *" never fires again in UTC (the days it names do not come again)');
    const coming = new Date().getUTCFullYear() + 1;
    expect(() =>
      parseTargetConfig(target({ schedule: { cron: `0 2 * * ? ${coming}`, timeZone: 'UTC' } }), 't'),
    ).not.toThrow();
  });

  it('refuses a cron that fires again before a run of the target can finish', () => {
    const error = refusal({ schedule: { cron: '0/20 * * * ? *', timeZone: 'UTC' } });
    expect(error.field).toBe('schedule.cron');
    const worst = Math.ceil(worstCaseRunSeconds(parseTargetConfig(target(), 't').plan) / 60);
    expect(error.message).toBe(
      `schedule.cron: "0/20 * * * ? *" fires again 20 min after a run starts, but a run of chat can take up to ` +
        `${worst} min and needs ${worst + 5} min before the next: schedule it less often or shorten the plan (in test)`,
    );
    expect(() => parseTargetConfig(target({ schedule: { cron: '0 * * * ? *', timeZone: 'UTC' } }), 't')).not.toThrow();
  });

  it('counts every region of the target: the next run must wait until the last staggered region is done', () => {
    // Hourly is enough for one region, but three staggered regions take longer than an hour.
    const regions = ['eu-west-1', 'us-east-1', 'ap-south-1'];
    const error = refusal({ regions, schedule: { cron: '0 * * * ? *', timeZone: 'UTC' } });
    expect(error.field).toBe('schedule.cron');
    expect(error.message).toContain('its 3 regions staggered over');
  });
});

describe('region starts', () => {
  it('staggers the regions of a target in config order, a run at its worst plus a margin apart', () => {
    const parsed = parseTargetConfig(target({ regions: ['eu-west-1', 'us-east-1', 'ap-south-1'] }), 't');
    const spacing = runSpacingMinutes(parsed.plan);
    expect(spacing).toBe(Math.ceil((worstCaseRunSeconds(parsed.plan) + 300) / 60));
    expect(regionStarts(parsed)).toEqual([
      { region: 'eu-west-1', offsetMinutes: 0 },
      { region: 'us-east-1', offsetMinutes: spacing },
      { region: 'ap-south-1', offsetMinutes: 2 * spacing },
    ]);
  });

  it('takes the offsets the config sets, and refuses two regions closer than a run', () => {
    const schedule = { cron: '0 2 * * ? *', timeZone: 'UTC', regionOffsetMinutes: { 'eu-west-1': 60, 'us-east-1': 0 } };
    const parsed = parseTargetConfig(target({ regions: ['eu-west-1', 'us-east-1'], schedule }), 't');
    expect(regionStarts(parsed)).toEqual([
      { region: 'eu-west-1', offsetMinutes: 60 },
      { region: 'us-east-1', offsetMinutes: 0 },
    ]);
    const close = refusal({
      regions: ['eu-west-1', 'us-east-1'],
      schedule: { ...schedule, regionOffsetMinutes: { 'eu-west-1': 0, 'us-east-1': 10 } },
    });
    expect(close.field).toBe('schedule.regionOffsetMinutes.us-east-1');
    expect(close.message).toMatch(/: starts 10 min after eu-west-1, but a run of chat can take up to \d+ min/);
  });

  it('refuses offsets for a region the target is not probed from, or that leave one out', () => {
    const unknown = refusal({
      schedule: { cron: '0 2 * * ? *', timeZone: 'UTC', regionOffsetMinutes: { 'eu-west-1': 0, 'us-west-2': 40 } },
    });
    expect(unknown.field).toBe('schedule.regionOffsetMinutes.us-west-2');
    expect(unknown.message).toContain('names a region the target is not probed from (its regions: eu-west-1)');
    const missing = refusal({
      regions: ['eu-west-1', 'us-east-1'],
      schedule: { cron: '0 2 * * ? *', timeZone: 'UTC', regionOffsetMinutes: { 'eu-west-1': 0 } },
    });
    expect(missing.field).toBe('schedule.regionOffsetMinutes');
    expect(missing.message).toContain('gives no offset for us-east-1');
  });
});

describe('deployment names', () => {
  it('accepts a name of lower-case letters and digits and refuses one that could run into another name', () => {
    const config = { allowedHosts: ['chat.example.com'], targets: [target()] };
    expect(parseConfig({ ...config, name: 'staging2' }, 't').name).toBe('staging2');
    for (const name of ['Staging', 'stag-ing', '2prod', 'a'.repeat(17)]) {
      expect(() => parseConfig({ ...config, name }, 't')).toThrow(/^name: must be 1 to 16 lower-case letters/);
    }
  });
});
