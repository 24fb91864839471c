/**
 * Secret header values from AWS Secrets Manager. A target's config names a
 * secret (and, for a JSON secret, the key to use); the worker Lambda reads it
 * here at run time, so the value never enters a payload, a log line, a stored
 * item or the template. Errors name the secret and what went wrong, never
 * the value (not even a fragment of it from a JSON parse error).
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretReference } from '../config/config-types.js';
import { WsCeilingError } from '../engine/errors.js';

/** A referenced secret could not be read or has no usable value. Exit code 3. */
export class SecretReadError extends WsCeilingError {
  /** Name of the secret. */
  readonly secretName: string;

  constructor(secretName: string, message: string, options?: { cause?: unknown }) {
    super(`secret ${secretName}: ${message}`, 3, options);
    this.secretName = secretName;
  }
}

/** How a {@link SecretsManagerSecrets} reaches Secrets Manager. */
export interface SecretsManagerSecretsOptions {
  client: SecretsManagerClient;
}

/** Reads referenced secrets from Secrets Manager. */
export class SecretsManagerSecrets {
  readonly #client: SecretsManagerClient;

  constructor(options: SecretsManagerSecretsOptions) {
    this.#client = options.client;
  }

  /**
   * The secret's current string value, or with `jsonKey` the string at that
   * key of the JSON object it holds. The reference's `prefix` is not applied
   * here (the header resolver adds it). Bound, so it can be passed as a function.
   */
  readonly readSecret = async (reference: SecretReference): Promise<string> => {
    const text = await this.#secretString(reference.secretName);
    return reference.jsonKey === undefined ? text : valueAtKey(reference.secretName, text, reference.jsonKey);
  };

  /** The SecretString of the secret's current version. */
  async #secretString(secretName: string): Promise<string> {
    let secretString: string | undefined;
    try {
      ({ SecretString: secretString } = await this.#client.send(new GetSecretValueCommand({ SecretId: secretName })));
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new SecretReadError(secretName, `cannot be read from Secrets Manager (${reason})`, { cause: error });
    }
    if (secretString === undefined) {
      throw new SecretReadError(secretName, 'has no string value (a binary secret cannot be a header value)');
    }
    return secretString;
  }
}

/** The string at `jsonKey` of the JSON object `text`; the errors never quote the text. */
function valueAtKey(secretName: string, text: string, jsonKey: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SecretReadError(secretName, `is not a JSON object, so jsonKey "${jsonKey}" cannot be read from it`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SecretReadError(secretName, `is not a JSON object, so jsonKey "${jsonKey}" cannot be read from it`);
  }
  const value = (parsed as Record<string, unknown>)[jsonKey];
  if (typeof value !== 'string') {
    throw new SecretReadError(secretName, `jsonKey "${jsonKey}" must hold a string, found ${kindOf(value)}`);
  }
  return value;
}

/** What a JSON value is, in words, without its content. */
function kindOf(value: unknown): string {
  if (value === undefined) return 'no such key';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
