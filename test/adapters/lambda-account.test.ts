import { GetAccountSettingsCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { readAccountConcurrency } from '../../functions/adapters/lambda-account.js';
import { setEnvironment } from '../support/deployed-run.js';

const lambda = mockClient(LambdaClient);
afterEach(() => lambda.reset());

describe('readAccountConcurrency', () => {
  it("reads the account's concurrency limit and unreserved concurrency", async () => {
    lambda.on(GetAccountSettingsCommand).resolves({
      AccountLimit: { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 880 },
    });
    expect(await readAccountConcurrency('eu-west-1')).toEqual({
      read: true,
      concurrency: { limit: 1000, unreserved: 880 },
    });
  });

  it('says why when the call fails, and gives up after its bound when nothing answers', async () => {
    lambda.on(GetAccountSettingsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    expect(await readAccountConcurrency('eu-west-1')).toEqual({ read: false, reason: 'AccessDeniedException: denied' });
    lambda.on(GetAccountSettingsCommand).callsFake(() => new Promise(() => undefined));
    expect(await readAccountConcurrency('eu-west-1', { timeoutMs: 50 })).toEqual({
      read: false,
      reason: 'no answer within 0.05 s',
    });
  });
});

describe('readAccountConcurrency without credentials', () => {
  it('answers that it could not read them, without waiting for the instance metadata service', async () => {
    lambda.restore();
    const restore = setEnvironment({
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: '/nonexistent/ws-ceiling-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/ws-ceiling-credentials',
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
      AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
    });
    try {
      const reading = await readAccountConcurrency('eu-west-1', { timeoutMs: 10_000 });
      expect(reading.read).toBe(false);
      expect(reading.read ? '' : reading.reason).toMatch(/credentials/i);
    } finally {
      restore();
    }
  });
});
