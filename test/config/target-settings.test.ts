import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretsManagerSecrets } from '../../functions/adapters/secrets-manager-secrets.js';
import type { SecretReference, TargetConfig } from '../../functions/config/config-types.js';
import { parseTargetConfig } from '../../functions/config/target-config.js';
import {
  planProbeSettings,
  resolveTargetHeaders,
  targetProbeSettings,
} from '../../functions/config/target-settings.js';
import { WsCeilingError } from '../../functions/engine/errors.js';
import { planRun } from '../../functions/engine/plan.js';

/** A validated target with `overrides`. */
function target(overrides: Record<string, unknown> = {}): TargetConfig {
  return parseTargetConfig(
    {
      id: 'chat',
      url: 'wss://chat.example.com/socket',
      regions: ['eu-west-1'],
      schedule: { cron: '0 2 * * ? *', timeZone: 'UTC' },
      ...overrides,
    },
    'test',
  );
}

const secretsManager = mockClient(SecretsManagerClient);
afterEach(() => secretsManager.reset());

describe('planProbeSettings', () => {
  it('copies the plan fields the run needs', () => {
    const plan = target({
      plan: { stages: [10, 20], holdSeconds: 2, connectRate: 40, shardSize: 5, stopAtFirstFailingStage: false },
    }).plan;
    expect(planProbeSettings(plan)).toStrictEqual({
      stages: [10, 20],
      holdSeconds: 2,
      connectRate: 40,
      maxInFlight: 100,
      handshakeTimeoutSeconds: 10,
      shardSize: 5,
      maxConnections: 2000,
      stopAtFirstFailingStage: false,
    });
  });
});

describe('targetProbeSettings', () => {
  it('turns a target and its resolved headers into the settings of a run, the floor as minCeiling', () => {
    const configured = target({
      subprotocols: ['chat.v2'],
      heartbeat: { kind: 'message', payload: 'ping', intervalSeconds: 5 },
      plan: { stages: [10, 20], holdSeconds: 2 },
      tolerance: '1%',
      regressionTolerance: 0.2,
      baselineRuns: 5,
      floor: 15,
    });
    expect(targetProbeSettings(configured, { Authorization: 'Bearer t' })).toStrictEqual({
      url: 'wss://chat.example.com/socket',
      targetId: 'chat',
      stages: [10, 20],
      holdSeconds: 2,
      connectRate: 50,
      maxInFlight: 100,
      handshakeTimeoutSeconds: 10,
      shardSize: 900,
      maxConnections: 2000,
      stopAtFirstFailingStage: true,
      heartbeat: { kind: 'message', payload: 'ping', intervalSeconds: 5 },
      headers: { Authorization: 'Bearer t' },
      subprotocols: ['chat.v2'],
      tolerance: { kind: 'percent', value: 1 },
      regressionTolerance: 0.2,
      baselineRuns: 5,
      minCeiling: 15,
    });
  });

  it('sets no minCeiling without a floor, and the plan step accepts the settings', () => {
    const settings = targetProbeSettings(target({ plan: { stages: [1000, 2000] } }), {});
    expect(settings).not.toHaveProperty('minCeiling');
    const plan = planRun(settings, { now: () => 0, newRunId: () => 'r', startDelayMs: 20_000 });
    expect(plan.shards).toHaveLength(3);
    expect(plan.startAt).toBe(20_000);
  });
});

describe('resolveTargetHeaders', () => {
  it('keeps plain headers and puts the prefix before each secret value', async () => {
    const reads: SecretReference[] = [];
    const headers = await resolveTargetHeaders(
      target({
        headers: {
          'X-Probe': 'ws-ceiling',
          Authorization: { secretName: 'chat/token', prefix: 'Bearer ' },
          'X-Key': { secretName: 'raw' },
        },
      }),
      (reference) => {
        reads.push(reference);
        return Promise.resolve(`value-of-${reference.secretName}`);
      },
    );
    expect(headers).toStrictEqual({
      'X-Probe': 'ws-ceiling',
      Authorization: 'Bearer value-of-chat/token',
      'X-Key': 'value-of-raw',
    });
    expect(reads).toEqual([{ secretName: 'chat/token', prefix: 'Bearer ' }, { secretName: 'raw' }]);
  });

  it('reads a JSON secret key through the Secrets Manager adapter', async () => {
    secretsManager
      .on(GetSecretValueCommand, { SecretId: 'ws-ceiling/analytics' })
      .resolves({ SecretString: '{"apiKey":"k-123","other":"x"}' });
    const secrets = new SecretsManagerSecrets({ client: new SecretsManagerClient({ region: 'eu-west-1' }) });
    const headers = await resolveTargetHeaders(
      target({ headers: { 'X-Api-Key': { secretName: 'ws-ceiling/analytics', jsonKey: 'apiKey', prefix: 'Key ' } } }),
      secrets.readSecret,
    );
    expect(headers).toStrictEqual({ 'X-Api-Key': 'Key k-123' });
  });

  it('names the header and the secret when a read fails, and keeps the reader exit code', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .rejects(
        new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }),
      );
    const secrets = new SecretsManagerSecrets({ client: new SecretsManagerClient({ region: 'eu-west-1' }) });
    const failure = resolveTargetHeaders(
      target({ headers: { Authorization: { secretName: 'chat/token' } } }),
      secrets.readSecret,
    );
    await expect(failure).rejects.toThrow(WsCeilingError);
    await expect(failure).rejects.toThrow(
      /^header Authorization: secret chat\/token: cannot be read from Secrets Manager \(ResourceNotFoundException/,
    );
    await expect(failure).rejects.toMatchObject({ exitCode: 3 });
  });

  it('names the secret when the reader error does not, and never shows a value', async () => {
    const failure = resolveTargetHeaders(
      target({ headers: { 'X-Probe': 'plain-value', Authorization: { secretName: 'chat/token', prefix: 'Bearer ' } } }),
      () => Promise.reject(new Error('throttled')),
    );
    await expect(failure).rejects.toThrow('header Authorization: secret chat/token: throttled');
    await expect(failure).rejects.not.toThrow(/plain-value|Bearer/);
  });
});
