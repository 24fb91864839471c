/**
 * SigV4 signing of upgrade URLs, for AWS API Gateway WebSocket APIs with IAM
 * authorization (`--sigv4`; a deployed target's `auth: {kind: "sigv4"}`).
 * Each upgrade URL is presigned with the AWS SDK's signer (the query gets
 * X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders,
 * -Signature and, for temporary credentials, -Security-Token) just before
 * the connection opens. Credentials come from the SDK's default chain:
 * the environment, profiles and SSO locally, the worker's role in Lambda.
 *
 * The connection layer gets this as a plain function `(url) => Promise<url>`
 * and imports nothing from AWS. A signed URL holds credentials in its query:
 * like every URL, it is shown and stored only with its query values
 * redacted.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Sha256 } from '@smithy/core/checksum';
import { buildQueryString, HttpRequest, parseQueryString } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';
import { WsCeilingError } from '../engine/errors.js';
import { DEFAULT_SIGV4_SERVICE } from '../engine/execute-api.js';

/** Seconds a signed URL stays valid: it is signed right before its upgrade, so a minute covers any handshake. */
const SIGNED_URL_EXPIRES_SECONDS = 60;

/** Where the signer's credentials come from (the SDK's credential provider type). */
type CredentialProvider = NonNullable<ConstructorParameters<typeof SignatureV4>[0]['credentials']>;

/** How URLs are signed. */
export interface SigV4UrlSignerOptions {
  region: string;
  /** Default `execute-api`. */
  service?: string;
  /** Default: the SDK's default credential chain (memoized, refreshed before expiry). */
  credentials?: CredentialProvider;
  /** The signing time; default now. */
  now?: () => Date;
}

/** Signs one upgrade URL: the same URL with the signature in its query. */
export type UrlSigner = (url: string) => Promise<string>;

/** No credentials could be found, or they could not sign. Exit code 3; the message names no secret. */
export class SigV4SigningError extends WsCeilingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`--sigv4: ${message}`, 3, options);
  }
}

/** A signer for upgrade URLs. */
export function sigV4UrlSigner(options: SigV4UrlSignerOptions): UrlSigner {
  const signer = new SignatureV4({
    credentials: options.credentials ?? defaultProvider(),
    region: options.region,
    service: options.service ?? DEFAULT_SIGV4_SERVICE,
    sha256: Sha256,
  });
  const now = options.now ?? (() => new Date());
  return async (url) => {
    const parsed = new URL(url);
    const request = new HttpRequest({
      method: 'GET',
      protocol: parsed.protocol === 'wss:' ? 'https:' : 'http:',
      hostname: parsed.hostname,
      ...(parsed.port === '' ? {} : { port: Number(parsed.port) }),
      path: parsed.pathname,
      query: parsed.search === '' ? {} : parseQueryString(parsed.search),
      // What a ws client sends as Host: the port only when it is not the scheme's default.
      headers: { host: parsed.host },
    });
    let signed: HttpRequest;
    try {
      signed = (await signer.presign(request, {
        signingDate: now(),
        expiresIn: SIGNED_URL_EXPIRES_SECONDS,
      })) as HttpRequest;
    } catch (error) {
      throw new SigV4SigningError(`cannot sign the URL (${describeError(error)})`, { cause: error });
    }
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}?${buildQueryString(signed.query)}`;
  };
}

/**
 * Resolves the credentials once, so a run without any fails before it sends anything; throws SigV4SigningError
 * naming the SDK's reason (never a key).
 */
export async function checkSigV4Credentials(credentials: CredentialProvider = defaultProvider()): Promise<void> {
  try {
    await (typeof credentials === 'function' ? credentials() : credentials);
  } catch (error) {
    throw new SigV4SigningError(
      `no AWS credentials from the default chain (${describeError(error)}): set AWS_PROFILE or ` +
        'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with a role',
      { cause: error },
    );
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
