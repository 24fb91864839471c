import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TargetConfig } from '../../functions/config/config-types.js';
import {
  configForRegion,
  loadConfigFile,
  parseConfig,
  parseTargetConfig,
} from '../../functions/config/target-config.js';
import { InvalidInputError } from '../../functions/engine/errors.js';

const EXAMPLE = path.resolve('config/example.config.json');

/** A minimal valid target: only the required fields. */
function minimalTarget(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'chat',
    url: 'wss://chat.example.com/socket',
    regions: ['eu-west-1'],
    schedule: { cron: '0 2 * * ? *', timeZone: 'UTC' },
    ...overrides,
  };
}

/** A config with one target built from `overrides`, plus any top-level `config` fields. */
function configWith(
  overrides: Record<string, unknown> = {},
  config: Record<string, unknown> = {},
): Record<string, unknown> {
  return { allowedHosts: ['chat.example.com', 'events.example.com'], targets: [minimalTarget(overrides)], ...config };
}

/** The InvalidInputError `action` throws. */
function invalidInput(action: () => unknown): InvalidInputError {
  try {
    action();
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error('expected an InvalidInputError, nothing was thrown');
}

const directories: string[] = [];
afterEach(async () => {
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
});

/** Writes `text` to a file in a fresh temporary directory and returns its path. */
async function fileWith(text: string): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-config-'));
  directories.push(directory);
  const file = path.join(directory, 'config.json');
  await writeFile(file, text);
  return file;
}

describe('parseConfig', () => {
  it('fills every default of a target that gives only id, url, regions and schedule', () => {
    const config = parseConfig(configWith(), 'test.json');
    expect(config.onCall).toEqual([]);
    expect(config.targets[0]).toStrictEqual({
      id: 'chat',
      url: 'wss://chat.example.com/socket',
      regions: ['eu-west-1'],
      // A day between runs, plus the 26 min a run of the default plan may take to report.
      schedule: { cron: '0 2 * * ? *', timeZone: 'UTC', expectedEveryHours: 25 },
      enabled: true,
      headers: {},
      subprotocols: [],
      heartbeat: { kind: 'ping', intervalSeconds: 20, pongTimeoutSeconds: 10 },
      plan: {
        stages: [50, 100, 150, 200, 250, 300, 350, 400, 450, 500],
        holdSeconds: 60,
        connectRate: 50,
        maxInFlight: 100,
        handshakeTimeoutSeconds: 10,
        shardSize: 900,
        maxConnections: 2000,
        stopAtFirstFailingStage: true,
      },
      tolerance: { kind: 'count', value: 0 },
      regressionTolerance: 0.1,
      baselineRuns: 7,
      workerMemoryMb: 512,
    } satisfies TargetConfig);
  });

  it('normalises start/step/max into stages, always ending at max', () => {
    const config = parseConfig(configWith({ plan: { start: 100, step: 300, max: 800 } }), 'test.json');
    expect(config.targets[0]?.plan.stages).toEqual([100, 400, 700, 800]);
  });

  it('fills the rest of a partial range from the defaults, as ws-ceiling run does', () => {
    const config = parseConfig(configWith({ plan: { max: 200 } }), 'test.json');
    expect(config.targets[0]?.plan.stages).toEqual([50, 100, 150, 200]);
  });

  it('reads a tolerance as a count, a percentage or an object', () => {
    const tolerances = [2, '0.5%', { kind: 'percent', value: 1 }, { kind: 'count', value: 3 }].map(
      (tolerance) => parseConfig(configWith({ tolerance }), 'test.json').targets[0]?.tolerance,
    );
    expect(tolerances).toEqual([
      { kind: 'count', value: 2 },
      { kind: 'percent', value: 0.5 },
      { kind: 'percent', value: 1 },
      { kind: 'count', value: 3 },
    ]);
  });

  it('keeps secret headers as references and plain headers as text', () => {
    const headers = {
      Authorization: { secretName: 'chat/probe-token', prefix: 'Bearer ' },
      'X-Api-Key': { secretName: 'analytics', jsonKey: 'apiKey' },
      'X-Probe': 'ws-ceiling',
    };
    expect(parseConfig(configWith({ headers }), 'test.json').targets[0]?.headers).toStrictEqual(headers);
  });

  it('fills the defaults of a heartbeat that names only its kind', () => {
    const message = parseConfig(
      configWith({ heartbeat: { kind: 'message', payload: '{"type":"ping"}' } }),
      'test.json',
    );
    expect(message.targets[0]?.heartbeat).toEqual({ kind: 'message', payload: '{"type":"ping"}', intervalSeconds: 20 });
    expect(parseConfig(configWith({ heartbeat: { kind: 'off' } }), 'test.json').targets[0]?.heartbeat).toEqual({
      kind: 'off',
    });
  });

  it.each([
    ['0 2 * * ? *', 'UTC', 25],
    ['0 3 * * ? *', 'Europe/Paris', 26],
    ['0 2 * * ? *', 'Europe/Paris', 48],
    ['30 3 ? * MON-FRI *', 'UTC', 73],
    ['0 */6 * * ? *', 'UTC', 7],
  ])(
    'defaults expectedEveryHours for %s in %s to %i: its longest gap between runs plus a run, in whole hours',
    (cron, timeZone, hours) => {
      expect(
        parseConfig(configWith({ schedule: { cron, timeZone } }), 'test.json').targets[0]?.schedule.expectedEveryHours,
      ).toBe(hours);
    },
  );

  it('refuses an expectedEveryHours not longer than the longest gap of its cron plus a run, naming the minimum', () => {
    // 02:00 in Paris does not exist on the spring change, so that day has no run: 47 h between two runs.
    const paris = (expectedEveryHours: number) =>
      configWith({ schedule: { cron: '0 2 * * ? *', timeZone: 'Europe/Paris', expectedEveryHours } });
    for (const hours of [24, 25, 47]) {
      const error = invalidInput(() => parseConfig(paris(hours), 'test.json'));
      expect(error.field).toBe('targets[0].schedule.expectedEveryHours');
      expect(error.message).toContain(
        `must be at least 48, got ${hours}: "0 2 * * ? *" goes up to 47 h between runs in Europe/Paris (daylight ` +
          'saving included) and a run takes up to 26 min to report',
      );
    }
    expect(parseConfig(paris(48), 'test.json').targets[0]?.schedule.expectedEveryHours).toBe(48);
  });

  it('counts the run in: a plan that takes longer to report needs a longer window', () => {
    // Daily at 03:00 on Lord Howe Island, whose clocks move by half an hour: 24.5 h apart at most. The default plan
    // reports within 26 min, one held 854 s within 30.1 min. (Two runs a day closer than a run's worst case are
    // refused on their own: see "refuses a schedule that fires again before a run can finish".)
    const schedule = { cron: '0 3 * * ? *', timeZone: 'Australia/Lord_Howe', expectedEveryHours: 25 };
    expect(parseConfig(configWith({ schedule }), 'test.json').targets[0]?.schedule.expectedEveryHours).toBe(25);
    const long = { stages: [50], connectRate: 50, holdSeconds: 854 };
    const error = invalidInput(() => parseConfig(configWith({ plan: long, schedule }), 'test.json'));
    expect(error.field).toBe('targets[0].schedule.expectedEveryHours');
    expect(error.message).toContain(
      'must be at least 26, got 25: "0 3 * * ? *" goes up to 24.5 h between runs in Australia/Lord_Howe (daylight ' +
        'saving included) and a run takes up to 30.1 min to report',
    );
  });

  it('refuses a cron whose longest gap leaves no window CloudWatch can watch', () => {
    const error = invalidInput(() =>
      parseConfig(configWith({ schedule: { cron: '0 6 ? * SUN *', timeZone: 'UTC' } }), 'test.json'),
    );
    expect(error.field).toBe('targets[0].schedule.cron');
    expect(error.message).toContain('"0 6 ? * SUN *" goes up to 168 h between runs in UTC');
    expect(error.message).toContain('CloudWatch alarms look back at most 168 h: schedule it more often');
  });

  it('accepts a plan that just fits one worker Lambda run and refuses one a second longer', () => {
    // 20 s start + (1 s ramp + hold) + 10 s close + 15 s margin must stay within 900 s.
    const fits = parseConfig(configWith({ plan: { stages: [50], connectRate: 50, holdSeconds: 854 } }), 'test.json');
    expect(fits.targets[0]?.plan.holdSeconds).toBe(854);
    const error = invalidInput(() =>
      parseConfig(configWith({ plan: { stages: [50], connectRate: 50, holdSeconds: 855 } }), 'test.json'),
    );
    expect(error.field).toBe('targets[0].plan.holdSeconds');
    expect(error.message).toContain("a worker needs 901 s, above Lambda's 900 s");
  });

  it.each([
    ['a bad id', { id: 'Chat!' }, 'targets[0].id', 'lower-case letters, digits or "-"'],
    [
      'a URL that is not ws or wss',
      { url: 'https://chat.example.com/socket' },
      'targets[0].url',
      'must be a ws:// or wss:// URL, got https://',
    ],
    [
      'a URL with a user name and password',
      { url: 'wss://probe:hunter2@chat.example.com/' },
      'targets[0].url',
      'must not hold a user name or password',
    ],
    [
      'a host outside allowedHosts',
      { url: 'wss://other.example.net/socket' },
      'targets[0].url',
      'host other.example.net is not in allowedHosts',
    ],
    ['no region', { regions: [] }, 'targets[0].regions', 'at least one AWS region'],
    [
      'a malformed region',
      { regions: ['eu-west'] },
      'targets[0].regions[0]',
      'an AWS region name such as eu-west-1, got "eu-west"',
    ],
    ['a repeated region', { regions: ['eu-west-1', 'eu-west-1'] }, 'targets[0].regions[1]', 'repeats "eu-west-1"'],
    ['no schedule', { schedule: undefined }, 'targets[0].schedule', 'is required'],
    [
      'a five-field cron',
      { schedule: { cron: '0 2 * * *', timeZone: 'UTC' } },
      'targets[0].schedule.cron',
      'has 5 fields; it needs six',
    ],
    [
      'a cron with both day fields',
      { schedule: { cron: '0 2 * * MON *', timeZone: 'UTC' } },
      'targets[0].schedule.cron',
      '"?" in exactly one of day-of-month and day-of-week',
    ],
    [
      'a cron minute out of range',
      { schedule: { cron: '61 2 * * ? *', timeZone: 'UTC' } },
      'targets[0].schedule.cron',
      'minutes field "61" must be',
    ],
    [
      'an unknown time zone',
      { schedule: { cron: '0 2 * * ? *', timeZone: 'Mars/Olympus_Mons' } },
      'targets[0].schedule.timeZone',
      'an IANA time zone',
    ],
    [
      'a bad header name',
      { headers: { 'Bad Header': 'x' } },
      'targets[0].headers["Bad Header"]',
      'is not a valid header name',
    ],
    [
      'a header twice in other case',
      { headers: { 'X-Probe': 'a', 'x-probe': 'b' } },
      'targets[0].headers.x-probe',
      'repeats header X-Probe',
    ],
    [
      'an ARN as secret name',
      { headers: { Authorization: { secretName: 'arn:aws:secretsmanager:eu-west-1:1:secret:x' } } },
      'targets[0].headers.Authorization.secretName',
      'not an ARN',
    ],
    [
      'a secret reference with an unknown field',
      { headers: { Authorization: { secretName: 'x', value: 'y' } } },
      'targets[0].headers.Authorization.value',
      'allowed: secretName, jsonKey, prefix',
    ],
    ['a bad subprotocol', { subprotocols: ['chat v2'] }, 'targets[0].subprotocols[0]', 'subprotocol token'],
    ['an unknown heartbeat kind', { heartbeat: { kind: 'pong' } }, 'targets[0].heartbeat.kind', '{"kind": "ping"'],
    ['falling stages', { plan: { stages: [100, 50] } }, 'targets[0].plan.stages', 'must rise: 50 follows 100'],
    [
      'stages above maxConnections',
      { plan: { stages: [100, 2500] } },
      'targets[0].plan.stages',
      'above maxConnections 2000',
    ],
    [
      'stages and a range',
      { plan: { stages: [100], max: 200 } },
      'targets[0].plan.stages',
      'either stages or start/step/max, not both',
    ],
    [
      'a range starting above its max',
      { plan: { start: 300, max: 200 } },
      'targets[0].plan.start',
      '300 is above max 200',
    ],
    [
      'a hold that is not a number',
      { plan: { holdSeconds: 'soon' } },
      'targets[0].plan.holdSeconds',
      'must be a number of seconds from 0.1 to 86400, got "soon"',
    ],
    [
      'a shard larger than a Lambda holds',
      { plan: { shardSize: 1000 } },
      'targets[0].plan.shardSize',
      'a whole number from 1 to 900, got 1000',
    ],
    ['a rate above the hard cap', { plan: { connectRate: 5000 } }, 'targets[0].plan.connectRate', 'from 0.1 to 2000'],
    [
      'a misspelt plan field',
      { plan: { holdSecond: 30 } },
      'targets[0].plan.holdSecond',
      'is not a field here; allowed: stages, start, step, max, holdSeconds',
    ],
    [
      'a tolerance over 100%',
      { tolerance: '150%' },
      'targets[0].tolerance',
      'from 0% to 100% (e.g. "0.5%"), or {"kind": "count" | "percent", "value": …}, got "150%"',
    ],
    [
      'a regression tolerance above 1',
      { regressionTolerance: 1.5 },
      'targets[0].regressionTolerance',
      'a fraction (0.1 is 10 %) from 0 to 1',
    ],
    ['a floor above the last stage', { floor: 900 }, 'targets[0].floor', "900 is above the plan's last stage 500"],
    ['too little worker memory', { workerMemoryMb: 64 }, 'targets[0].workerMemoryMb', 'from 128 to 10240'],
    ['enabled as text', { enabled: 'yes' }, 'targets[0].enabled', 'must be true or false, got "yes"'],
  ])('refuses %s, naming the field and what is allowed', (_name, overrides, field, message) => {
    const error = invalidInput(() => parseConfig(configWith(overrides), 'targets.json'));
    expect(error.field).toBe(field);
    expect(error.message).toContain(message);
    expect(error.message).toContain('(in targets.json)');
    expect(error.exitCode).toBe(2);
  });

  it.each([
    ['no targets', { targets: [] }, 'targets', 'at least one target'],
    ['no allowed host', { allowedHosts: [] }, 'allowedHosts', 'at least one host name'],
    [
      'an allowed host with a scheme',
      { allowedHosts: ['https://chat.example.com'] },
      'allowedHosts[0]',
      'a lower-case host name',
    ],
    [
      'a bad e-mail endpoint',
      { onCall: [{ kind: 'email', address: 'oncall' }] },
      'onCall[0].address',
      'an e-mail address',
    ],
    [
      'an http endpoint',
      { onCall: [{ kind: 'https', url: 'http://hooks.example.com/x' }] },
      'onCall[0].url',
      'must be a https:// URL, got http://',
    ],
    ['an endpoint of unknown kind', { onCall: [{ kind: 'sms', number: '+33' }] }, 'onCall[0].kind', '{"kind": "email"'],
    ['an unknown top-level field', { target: [] }, 'target', 'allowed: name, allowedHosts, onCall, targets'],
  ])('refuses %s at the top level', (_name, config, field, message) => {
    const error = invalidInput(() => parseConfig({ ...configWith(), ...config }, 'targets.json'));
    expect(error.field).toBe(field);
    expect(error.message).toContain(message);
  });

  it('refuses a repeated target id at the second target', () => {
    const config = { allowedHosts: ['chat.example.com'], targets: [minimalTarget(), minimalTarget()] };
    const error = invalidInput(() => parseConfig(config, 'targets.json'));
    expect(error.field).toBe('targets[1].id');
    expect(error.message).toContain('repeats "chat"');
  });

  it('names the root when the file is not an object', () => {
    const error = invalidInput(() => parseConfig([1, 2], 'targets.json'));
    expect(error.field).toBe('config');
    expect(error.message).toContain('a config object with name, allowedHosts, onCall and targets');
  });

  it('never echoes a header value, a secret prefix or URL credentials', () => {
    const secrets = [
      () => parseConfig(configWith({ headers: { 'X-Token': 'top-secret\nvalue' } }), 'test.json'),
      () => parseConfig(configWith({ headers: { 'X-Token': 42 } }), 'test.json'),
      () =>
        parseConfig(
          configWith({ headers: { Authorization: { secretName: 'x', prefix: 'top-secret\n' } } }),
          'test.json',
        ),
      () => parseConfig(configWith({ url: 'wss://probe:top-secret@chat.example.com/' }), 'test.json'),
      () => parseConfig(configWith({ url: 'ftp://chat.example.com/?token=top-secret' }), 'test.json'),
      () => parseConfig(configWith({ url: 'top-secret' }), 'test.json'),
      () => parseConfig({ ...configWith(), targets: ['wss://probe:top-secret@chat.example.com/'] }, 'test.json'),
      () => parseConfig({ ...configWith(), targets: 'wss://probe:top-secret@chat.example.com/' }, 'test.json'),
      () => parseConfig({ ...configWith(), onCall: ['https://hooks.example.com/top-secret'] }, 'test.json'),
    ];
    for (const action of secrets) {
      const error = invalidInput(action);
      expect(error.message).not.toContain('top-secret');
      expect(error.message).not.toContain('42');
    }
  });
});

describe('loadConfigFile', () => {
  it('loads and validates the example config', () => {
    const config = loadConfigFile(EXAMPLE);
    expect(config.targets.map((target) => target.id)).toEqual(['chat', 'analytics-events', 'agent-desktop']);
    expect(config.targets.find((target) => target.id === 'analytics-events')?.plan.stages).toEqual([
      200, 400, 600, 800, 1000, 1200,
    ]);
  });

  it('names the file when it cannot be read', () => {
    const missing = path.join(tmpdir(), 'ws-ceiling-no-such-config.json');
    const error = invalidInput(() => loadConfigFile(missing));
    expect(error.field).toBe(missing);
    expect(error.message).toContain('cannot read the config file (ENOENT');
  });

  it('names the file and the line of a JSON syntax error', async () => {
    const file = await fileWith('{\n  "allowedHosts": ["chat.example.com"],\n}\n');
    const error = invalidInput(() => loadConfigFile(file));
    expect(error.field).toBe(file);
    expect(error.message).toBe(`${file}: is not valid JSON: Expected double-quoted property name at line 3, column 1`);
  });

  it('leaves the text of the file out of a JSON syntax error', async () => {
    const file = await fileWith('{"allowedHosts": [,"chat.example.com"]}');
    const error = invalidInput(() => loadConfigFile(file));
    expect(error.message).toMatch(/is not valid JSON: Unexpected token ','/);
    expect(error.message).not.toContain('chat.example.com');
  });

  it('names the file in a validation error', async () => {
    const file = await fileWith(JSON.stringify(configWith({ plan: { holdSeconds: 0 } })));
    const error = invalidInput(() => loadConfigFile(file));
    expect(error.field).toBe('targets[0].plan.holdSeconds');
    expect(error.message).toContain(`(in ${file})`);
  });
});

describe('parseTargetConfig', () => {
  it('accepts every normalised target of the example config unchanged', () => {
    for (const target of loadConfigFile(EXAMPLE).targets) {
      const roundTripped = JSON.parse(JSON.stringify(target)) as unknown;
      expect(parseTargetConfig(roundTripped, 'run request')).toStrictEqual(target);
    }
  });

  it('refuses a bad target with the path inside the target and the source', () => {
    const error = invalidInput(() => parseTargetConfig(minimalTarget({ plan: { holdSeconds: -1 } }), 'run request'));
    expect(error.field).toBe('plan.holdSeconds');
    expect(error.message).toBe(
      'plan.holdSeconds: must be a number of seconds from 0.1 to 86400, got -1 (in run request)',
    );
  });
});

describe('configForRegion', () => {
  it('keeps only the targets probed from that region', () => {
    const config = loadConfigFile(EXAMPLE);
    expect(configForRegion(config, 'eu-west-1').targets.map((target) => target.id)).toEqual([
      'chat',
      'analytics-events',
    ]);
    expect(configForRegion(config, 'us-east-1').targets.map((target) => target.id)).toEqual(['chat', 'agent-desktop']);
    expect(configForRegion(config, 'ap-south-1').targets).toEqual([]);
    expect(configForRegion(config, 'eu-west-1').onCall).toEqual(config.onCall);
  });

  it('refuses a malformed region', () => {
    expect(invalidInput(() => configForRegion(loadConfigFile(EXAMPLE), 'Europe')).field).toBe('region');
  });
});
