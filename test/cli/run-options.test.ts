import { describe, expect, it } from 'vitest';
import { parseRunFlags, RUN_DEFAULTS, type RawRunFlags } from '../../bin/cli/run-options.js';
import { targetIdFromUrl } from '../../bin/cli/target-id.js';
import { DEFAULT_RUN_FLAGS } from '../support/run-flags.js';

const parse = (flags: Partial<RawRunFlags>, url = 'wss://chat.example.com/socket') =>
  parseRunFlags(url, { ...DEFAULT_RUN_FLAGS, ...flags });

describe('parseRunFlags', () => {
  it('builds stages from --start/--step/--max, ending exactly at --max', () => {
    expect(parse({ start: '100', step: '250', max: '800' }).stages).toEqual([100, 350, 600, 800]);
    expect(parse({}).stages).toEqual([50, 100, 150, 200, 250, 300, 350, 400, 450, 500]);
  });

  it('takes an explicit stage list, headers, subprotocols, heartbeat and tolerance', () => {
    const settings = parse({
      stages: '10, 20,40',
      header: ['Authorization: Bearer s3cret', 'X-Tenant:acme'],
      subprotocol: ['graphql-ws'],
      ping: '5',
      pongTimeout: '3',
      tolerance: '0.5%',
      minCeiling: '30',
      targetId: 'chat-eu',
    });
    expect(settings).toMatchObject({
      stages: [10, 20, 40],
      headers: { Authorization: 'Bearer s3cret', 'X-Tenant': 'acme' },
      subprotocols: ['graphql-ws'],
      heartbeat: { kind: 'ping', intervalSeconds: 5, pongTimeoutSeconds: 3 },
      tolerance: { kind: 'percent', value: 0.5 },
      minCeiling: 30,
      targetId: 'chat-eu',
      stopAtFirstFailingStage: true,
      regressionTolerance: 0.1,
      baselineRuns: 7,
    });
    expect(parse({ ping: 'off' }).heartbeat).toEqual({ kind: 'off' });
    expect(parse({ ping: '15', heartbeatMessage: '{"type":"ping"}' }).heartbeat).toEqual({
      kind: 'message',
      intervalSeconds: 15,
      payload: '{"type":"ping"}',
    });
  });

  it.each([
    [{ stages: '50,40' }, '--stages: must be rising whole numbers'],
    [{ stages: '50', max: '100' }, '--stages: give either --stages or --start/--step/--max'],
    [{ hold: 'soon' }, '--hold: must be a number of seconds from 0.1 to 86400, got "soon"'],
    [{ rate: '0' }, '--rate: must be a number of new connections per second from 0.1 to 2000, got "0"'],
    [{ ping: 'sometimes' }, '--ping: must be "off" or a number of seconds'],
    [{ tolerance: '2.5' }, '--tolerance: must be a whole number of failures'],
    [{ maxInFlight: '-3' }, '--max-in-flight: must be a whole number from 1 to 10000, got "-3"'],
    [{ max: '3000' }, '--max-connections: the plan goes up to 3000 connections, above the safety cap of 2000'],
    [{ minCeiling: '900' }, "--min-ceiling: 900 is above the plan's maximum of 500"],
    [{ ping: 'off', heartbeatMessage: 'hi' }, '--heartbeat-message: is sent every --ping seconds'],
    [{ targetId: 'a b' }, '--target-id: must be 1 to 64 letters'],
    [{ shardSize: '5000' }, '--shard-size: must be a whole number from 1 to 1000'],
    [
      { regressionTolerance: '101' },
      '--regression-tolerance: must be a percentage from 0 to 100 (e.g. 10 or 12.5%), got "101"',
    ],
    [{ regressionTolerance: '-5' }, '--regression-tolerance: must be a percentage from 0 to 100'],
    [{ regressionTolerance: 'ten' }, '--regression-tolerance: must be a percentage from 0 to 100'],
    [{ regressionTolerance: '0.1.5%' }, '--regression-tolerance: must be a percentage from 0 to 100'],
    [{ regressionTolerance: '' }, '--regression-tolerance: must be a percentage from 0 to 100'],
    [{ baselineRuns: '0' }, '--baseline-runs: must be a whole number from 1 to 100, got "0"'],
    [{ baselineRuns: '101' }, '--baseline-runs: must be a whole number from 1 to 100, got "101"'],
    [{ baselineRuns: '3.5' }, '--baseline-runs: must be a whole number from 1 to 100'],
  ] as const)('refuses %o naming the flag', (flags, message) => {
    expect(() => parse(flags)).toThrow(message);
  });

  it('reads --regression-tolerance as a percentage with or without %, into a fraction', () => {
    expect(parse({ regressionTolerance: '10' }).regressionTolerance).toBe(0.1);
    expect(parse({ regressionTolerance: '12.5%' }).regressionTolerance).toBe(0.125);
    expect(parse({ regressionTolerance: ' 25 % ' }).regressionTolerance).toBe(0.25);
    expect(parse({ regressionTolerance: '0' }).regressionTolerance).toBe(0);
    expect(parse({ regressionTolerance: '100%' }).regressionTolerance).toBe(1);
  });

  it('reads --baseline-runs, and DEFAULT_RUN_FLAGS to 10 % over 7 runs when the flags are not given', () => {
    expect(parse({ baselineRuns: '1' }).baselineRuns).toBe(1);
    expect(parse({ baselineRuns: '100' }).baselineRuns).toBe(100);
    expect(parse({})).toMatchObject({ regressionTolerance: 0.1, baselineRuns: 7 });
    expect(
      parse({ regressionTolerance: RUN_DEFAULTS.regressionTolerance, baselineRuns: RUN_DEFAULTS.baselineRuns }),
    ).toMatchObject({
      regressionTolerance: 0.1,
      baselineRuns: 7,
    });
  });

  it('refuses a malformed header without echoing its value', () => {
    expect(() => parse({ header: ['Bearer-only-s3cret-value'] })).toThrow('--header: must look like "Name: value"');
    try {
      parse({ header: ['Bearer-only-s3cret-value'] });
    } catch (error) {
      expect(String(error)).not.toContain('s3cret');
    }
  });

  it('refuses a URL that is not ws:// or wss:// without echoing it', () => {
    expect(() => parse({}, 'https://user:pw@example.com/')).toThrow('url: must use ws:// or wss://, got https://');
    expect(() => parse({}, 'not a url')).toThrow('url: must be a ws:// or wss:// URL');
  });
});

describe('targetIdFromUrl', () => {
  it('derives a stable id from host, port and path', () => {
    expect(targetIdFromUrl(new URL('wss://chat.example.com/socket/v2'))).toBe('chat.example.com-socket-v2');
    expect(targetIdFromUrl(new URL('ws://127.0.0.1:8080/'))).toBe('127.0.0.1-8080');
  });
});
