// A deployed target's session and SigV4 auth (issue 14): the config fills their defaults, refuses what a deployed
// worker cannot do ({{env:…}}, {{session}}) with the path of the field and never its value, reads the API's region
// and id from an execute-api host, and turns them into the run's settings with secret init messages read at run time.
import { describe, expect, it } from 'vitest';
import { parseConfig, parseTargetConfig } from '../../functions/config/target-config.js';
import {
  resolveInitMessages,
  settingsWithoutSecrets,
  targetProbeSettings,
} from '../../functions/config/target-settings.js';
import { InvalidInputError } from '../../functions/engine/errors.js';

const API_HOST = 'a1b2c3d4e5.execute-api.us-east-1.amazonaws.com';

function config(target: Record<string, unknown>) {
  return {
    allowedHosts: ['chat.example.com', API_HOST],
    targets: [
      {
        id: 'chat',
        url: 'wss://chat.example.com/socket',
        regions: ['eu-west-1'],
        schedule: { cron: '0 2 * * ? *', timeZone: 'UTC' },
        ...target,
      },
    ],
  };
}

const parseTarget = (target: Record<string, unknown>) => parseConfig(config(target), 'test.json').targets[0]!;

function refusal(target: Record<string, unknown>): string {
  try {
    parseTarget(target);
  } catch (error) {
    if (error instanceof InvalidInputError) return error.message;
    throw error;
  }
  throw new Error('accepted');
}

describe('a target with a session', () => {
  it('fills the ready timeout only with readyWhen, and is accepted again as the plan step re-reads it', () => {
    const target = parseTarget({
      session: {
        initMessages: ['{"type":"connection_init","payload":{"id":"{{uuid}}"}}', { secretName: 'chat/init' }],
        readyWhen: '/connection_ack/',
      },
    });
    expect(target.session).toEqual({
      initMessages: ['{"type":"connection_init","payload":{"id":"{{uuid}}"}}', { secretName: 'chat/init' }],
      readyWhen: '/connection_ack/',
      readyTimeoutSeconds: 10,
    });
    expect(parseTargetConfig(target, 'run input')).toEqual(target);
    expect(parseTarget({ session: { initMessages: ['{"type":"hello"}'] } }).session).toEqual({
      initMessages: ['{"type":"hello"}'],
    });
  });

  it('becomes the run settings: init messages read from Secrets Manager by the worker, counted elsewhere', async () => {
    const target = parseTarget({
      session: { initMessages: ['{"type":"a"}', { secretName: 'chat/init', prefix: '' }], readyWhen: 'ack' },
    });
    const messages = await resolveInitMessages(target, (reference) => Promise.resolve(`read ${reference.secretName}`));
    expect(messages).toEqual(['{"type":"a"}', 'read chat/init']);
    expect(targetProbeSettings(target, {}, messages).session).toEqual({
      initMessages: messages,
      readyWhen: { kind: 'text', text: 'ack' },
      readyTimeoutSeconds: 10,
    });
    expect(settingsWithoutSecrets(target).session?.initMessages).toEqual(['', '']);
  });

  it.each([
    [{ url: 'wss://chat.example.com/{{env:ROOM}}' }, 'targets[0].url: {{env:ROOM}} reads the environment'],
    [{ headers: { Authorization: 'Bearer {{env:TOKEN}}' } }, 'targets[0].headers.Authorization: {{env:TOKEN}}'],
    [
      { session: { initMessages: ['{"token":"{{env:TOKEN}}"}'] } },
      'targets[0].session.initMessages[0]: {{env:TOKEN}} reads the environment',
    ],
    [{ session: { initMessages: ['{{session}}'] } }, 'a deployed target has none'],
    [{ headers: { 'X-Id': '{{id}}' } }, 'unknown template {{id}}: use {{n}}, {{shard}} or {{uuid}}'],
    [{ session: { readyTimeoutSeconds: 5 } }, 'targets[0].session.readyTimeoutSeconds: is how long to wait for'],
    [{ session: { readyWhen: '/(/' } }, 'targets[0].session.readyWhen: is not a valid regular expression'],
    [{ session: { initMessages: [''] } }, 'targets[0].session.initMessages[0]: must be a message of 1 to 8192'],
  ])('refuses %j naming the field', (target, message) => {
    expect(refusal(target)).toContain(message);
  });
});

describe('a target with auth: {kind: "sigv4"}', () => {
  it('reads the region and API id from an execute-api host and signs for execute-api', () => {
    const target = parseTarget({ url: `wss://${API_HOST}/prod`, auth: { kind: 'sigv4' } });
    expect(target.auth).toEqual({ kind: 'sigv4', region: 'us-east-1', service: 'execute-api', apiId: 'a1b2c3d4e5' });
    expect(parseTargetConfig(target, 'run input')).toEqual(target);
    expect(targetProbeSettings(target, {}).sigv4).toEqual({ region: 'us-east-1', service: 'execute-api' });
  });

  it('needs the region and the API id for a custom domain, and takes them when given', () => {
    expect(refusal({ auth: { kind: 'sigv4' } })).toContain('targets[0].auth.region: is required: the URL is not an');
    expect(refusal({ auth: { kind: 'sigv4', region: 'eu-west-1' } })).toContain(
      "targets[0].auth.apiId: is required, for the worker's execute-api:Invoke permission",
    );
    expect(parseTarget({ auth: { kind: 'sigv4', region: 'eu-west-1', apiId: 'z9y8x7w6v5' } }).auth).toEqual({
      kind: 'sigv4',
      region: 'eu-west-1',
      service: 'execute-api',
      apiId: 'z9y8x7w6v5',
    });
    expect(refusal({ auth: { kind: 'oauth' } })).toContain('targets[0].auth.kind');
  });
});
