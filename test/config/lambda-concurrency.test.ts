import { describe, expect, it } from 'vitest';
import { concurrencyProblems } from '../../functions/config/lambda-concurrency.js';
import { parseTargetConfig } from '../../functions/config/target-config.js';

/** A validated target of 3 workers (2,500 connections), with `fields`. */
function target(id: string, fields: Record<string, unknown> = {}) {
  return parseTargetConfig(
    {
      id,
      url: 'wss://chat.example.com/',
      regions: ['eu-west-1'],
      schedule: { cron: '0 2 * * ? *', timeZone: 'UTC' },
      plan: { stages: [1000, 2500], connectRate: 100, maxConnections: 2500 },
      ...fields,
    },
    'test',
  );
}

describe('concurrencyProblems', () => {
  it('passes workers that fit the unreserved concurrency, and reservations that leave 100 unreserved', () => {
    expect(concurrencyProblems([target('a'), target('b')], { limit: 1000, unreserved: 6 }, 'eu-west-1')).toEqual([]);
    const reserved = [target('a', { reservedConcurrency: 450 }), target('b', { reservedConcurrency: 450 })];
    expect(concurrencyProblems(reserved, { limit: 1000, unreserved: 1000 }, 'eu-west-1')).toEqual([]);
  });

  it('names a target whose workers would not fit the unreserved concurrency', () => {
    expect(concurrencyProblems([target('a')], { limit: 10, unreserved: 2 }, 'eu-west-1')).toEqual([
      {
        targetId: 'a',
        field: 'plan',
        message:
          'starts 3 workers at once, but the account has only 2 unreserved concurrent executions in eu-west-1 ' +
          '(limit 10), so some would be throttled and every run would be inconclusive; plan fewer workers (a larger ' +
          'shardSize or fewer connections), or ask AWS to raise the limit',
      },
    ]);
  });

  it('names the reserving targets when their reservations would leave Lambda fewer than 100 unreserved', () => {
    const reserved = [
      target('a', { reservedConcurrency: 451 }),
      target('b', { reservedConcurrency: 450 }),
      target('c'),
    ];
    const problems = concurrencyProblems(reserved, { limit: 1000, unreserved: 1000 }, 'eu-west-1');
    expect(problems.map((problem) => [problem.targetId, problem.field])).toEqual([
      ['a', 'reservedConcurrency'],
      ['b', 'reservedConcurrency'],
    ]);
    expect(problems[0]?.message).toContain('reserve 901 concurrent executions in all, but the account');
  });
});
