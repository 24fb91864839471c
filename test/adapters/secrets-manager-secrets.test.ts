import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretReadError, SecretsManagerSecrets } from '../../functions/adapters/secrets-manager-secrets.js';

const secretsManager = mockClient(SecretsManagerClient);
afterEach(() => secretsManager.reset());

function secrets(): SecretsManagerSecrets {
  return new SecretsManagerSecrets({ client: new SecretsManagerClient({ region: 'eu-west-1' }) });
}

/** The error a promise rejects with. */
async function failureOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: Error) => error,
  );
}

describe('SecretsManagerSecrets.readSecret', () => {
  it('returns the secret string of the named secret', async () => {
    secretsManager.on(GetSecretValueCommand, { SecretId: 'chat/probe-token' }).resolves({ SecretString: 'tok-sekrit' });
    expect(await secrets().readSecret({ secretName: 'chat/probe-token' })).toBe('tok-sekrit');
  });

  it('returns the value at jsonKey of a JSON secret and leaves the prefix to the header resolver', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ token: 'tok-sekrit', user: 'probe' }) });
    expect(await secrets().readSecret({ secretName: 'chat/creds', jsonKey: 'token', prefix: 'Bearer ' })).toBe(
      'tok-sekrit',
    );
  });

  it('works when passed around as a plain function', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: 'tok-sekrit' });
    const { readSecret } = secrets();
    expect(await readSecret({ secretName: 'chat/probe-token' })).toBe('tok-sekrit');
  });

  it('names the secret and the Secrets Manager error when it cannot be read', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .rejects(
        new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }),
      );
    const error = await failureOf(secrets().readSecret({ secretName: 'chat/missing' }));
    expect(error).toBeInstanceOf(SecretReadError);
    expect(error.message).toBe(
      'secret chat/missing: cannot be read from Secrets Manager ' +
        "(ResourceNotFoundException: Secrets Manager can't find the specified secret.)",
    );
  });

  it('refuses a binary secret', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2, 3]) });
    await expect(secrets().readSecret({ secretName: 'chat/binary' })).rejects.toThrow(
      'secret chat/binary: has no string value',
    );
  });

  it('never quotes the secret when it is not the JSON object jsonKey needs', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: 'tok-sekrit-not-json' });
    const error = await failureOf(secrets().readSecret({ secretName: 'chat/plain', jsonKey: 'token' }));
    expect(error.message).toBe('secret chat/plain: is not a JSON object, so jsonKey "token" cannot be read from it');
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain('sekrit');
  });

  it('says what the key holds when it is missing or not a string, without its value', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ token: 12345, nested: { a: 'sekrit' } }) });
    await expect(secrets().readSecret({ secretName: 'chat/creds', jsonKey: 'password' })).rejects.toThrow(
      'jsonKey "password" must hold a string, found no such key',
    );
    await expect(secrets().readSecret({ secretName: 'chat/creds', jsonKey: 'token' })).rejects.toThrow(
      'found a number',
    );
    const error = await failureOf(secrets().readSecret({ secretName: 'chat/creds', jsonKey: 'nested' }));
    expect(error.message).toContain('found an object');
    expect(error.message).not.toContain('sekrit');
  });
});
