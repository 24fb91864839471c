// Tests of SigV4 signing of upgrade URLs against a local WebSocket server that verifies signatures with a known key,
// as API Gateway does: a signed URL opens; a wrong key, a changed query, a wrong region or an expired signature is
// refused with 403; temporary credentials carry their session token; the default chain reads the environment; and
// the signed URL, redacted as every URL is, shows no credential.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import {
  checkSigV4Credentials,
  SigV4SigningError,
  sigV4UrlSigner,
  type SigV4UrlSignerOptions,
} from '../../functions/adapters/sigv4-url-signer.js';
import { parseExecuteApiHost } from '../../functions/engine/execute-api.js';
import { redactUrl } from '../../functions/engine/redact.js';
import { startSigV4Server, type SigV4Server } from '../support/sigv4-server.js';

const KEY_ID = 'AKIDEXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const REGION = 'eu-west-1';

const servers: SigV4Server[] = [];
const clients: WebSocket[] = [];

afterEach(async () => {
  vi.unstubAllEnvs();
  for (const ws of clients.splice(0)) ws.terminate();
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

async function server(now?: () => Date): Promise<SigV4Server> {
  const started = await startSigV4Server({
    keys: { [KEY_ID]: SECRET },
    region: REGION,
    service: 'execute-api',
    ...(now ? { now } : {}),
  });
  servers.push(started);
  return started;
}

function signer(overrides: Partial<SigV4UrlSignerOptions> = {}) {
  return sigV4UrlSigner({
    region: REGION,
    credentials: async () => Promise.resolve({ accessKeyId: KEY_ID, secretAccessKey: SECRET }),
    ...overrides,
  });
}

/** How an upgrade to `url` ended: opened, or the HTTP status it was refused with. */
function upgrade(url: string): Promise<'open' | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    clients.push(ws);
    ws.on('open', () => resolve('open'));
    ws.on('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    ws.on('error', reject);
  });
}

describe('sigV4UrlSigner', () => {
  it('signs an upgrade URL, keeping its path and query, that the verifying server accepts', async () => {
    const target = await server();
    const signed = await signer()(`${target.url}/production?room=a%20b&x=1`);
    const query = new URL(signed).searchParams;
    expect(query.get('room')).toBe('a b');
    expect(query.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(query.get('X-Amz-Credential')).toMatch(/^AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request$/);
    expect(query.get('X-Amz-SignedHeaders')).toBe('host');
    expect(await upgrade(signed)).toBe('open');
    expect(target.refusals).toEqual([]);
  });

  it('is refused with a wrong key, a changed query, a wrong region or an unsigned URL', async () => {
    const target = await server();
    const wrongKey = signer({
      credentials: async () => Promise.resolve({ accessKeyId: KEY_ID, secretAccessKey: 'not-the-key' }),
    });
    expect(await upgrade(await wrongKey(`${target.url}/production`))).toBe(403);
    const changed = (await signer()(`${target.url}/production?room=1`)).replace('room=1', 'room=2');
    expect(await upgrade(changed)).toBe(403);
    expect(await upgrade(await signer({ region: 'us-east-1' })(`${target.url}/production`))).toBe(403);
    expect(await upgrade(`${target.url}/production`)).toBe(403);
    expect(target.refusals).toEqual([
      'signature does not match',
      'signature does not match',
      'wrong credential scope',
      'no AWS4-HMAC-SHA256 signature',
    ]);
  });

  it('signs for a minute: a URL signed two minutes ago is refused', async () => {
    const target = await server(() => new Date(Date.now() + 120_000));
    expect(await upgrade(await signer()(`${target.url}/production`))).toBe(403);
    expect(target.refusals).toEqual(['expired']);
  });

  it('carries the session token of temporary credentials', async () => {
    const target = await server();
    const temporary = signer({
      credentials: async () =>
        Promise.resolve({ accessKeyId: KEY_ID, secretAccessKey: SECRET, sessionToken: 'session-sekrit' }),
    });
    const signed = await temporary(`${target.url}/production`);
    expect(new URL(signed).searchParams.get('X-Amz-Security-Token')).toBe('session-sekrit');
    expect(await upgrade(signed)).toBe('open');
    expect(redactUrl(signed)).not.toMatch(/session-sekrit|AKIDEXAMPLE|X-Amz-Signature=[0-9a-f]/);
  });

  it('takes its credentials from the default chain: the environment first', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', KEY_ID);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', SECRET);
    vi.stubEnv('AWS_SESSION_TOKEN', '');
    // A profile would take the chain past the environment.
    vi.stubEnv('AWS_PROFILE', undefined);
    const target = await server();
    expect(await upgrade(await sigV4UrlSigner({ region: REGION })(`${target.url}/production`))).toBe('open');
  });
});

describe('checkSigV4Credentials', () => {
  it('says there are no credentials, with the SDK’s reason', async () => {
    const missing = async () => Promise.reject(new Error('Could not load credentials from any providers'));
    const error = await checkSigV4Credentials(missing).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(SigV4SigningError);
    expect((error as Error).message).toBe(
      '--sigv4: no AWS credentials from the default chain (Error: Could not load credentials from any providers): ' +
        'set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with a role',
    );
  });
});

describe('parseExecuteApiHost', () => {
  it('reads the API id and region of an API Gateway host, and nothing of another', () => {
    expect(parseExecuteApiHost('a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com')).toEqual({
      apiId: 'a1b2c3d4e5',
      region: 'eu-west-1',
    });
    expect(parseExecuteApiHost('A1B2C3D4E5.execute-api.us-gov-west-1.amazonaws.com')?.region).toBe('us-gov-west-1');
    expect(parseExecuteApiHost('chat.example.com')).toBeUndefined();
  });
});
