/**
 * A WebSocket server on 127.0.0.1 that admits an upgrade only with a valid
 * SigV4 presigned URL, as API Gateway does for IAM-authorized WebSocket
 * APIs: it knows one secret key per access key id, checks the algorithm, the
 * credential scope (date, region, service), the time window, and the
 * signature, which it computes again with the AWS SDK's own signer from the
 * request it received. Anything else is answered 403.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest, parseQueryString } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';
import { WebSocketServer } from 'ws';

/** What the server accepts. */
export interface SigV4ServerOptions {
  /** Secret access key by access key id. */
  keys: Record<string, string>;
  region: string;
  service: string;
  /** The server's clock (default now): a signature is valid from its X-Amz-Date for X-Amz-Expires seconds. */
  now?: () => Date;
}

/** A started server. */
export interface SigV4Server {
  url: string;
  /** Why each refused upgrade was refused, in order. */
  refusals: string[];
  accepted(): number;
  stop(): Promise<void>;
}

/** Allowed clock skew, as AWS allows it. */
const SKEW_MS = 5 * 60 * 1000;

/** Why an upgrade request's signature is not valid, or undefined when it is. */
async function signatureProblem(req: IncomingMessage, options: SigV4ServerOptions): Promise<string | undefined> {
  const url = new URL(req.url ?? '/', 'http://placeholder');
  const query = parseQueryString(url.search) as Record<string, string | string[] | null>;
  const param = (name: string): string | undefined => {
    const value = query[name];
    return typeof value === 'string' ? value : undefined;
  };
  if (param('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return 'no AWS4-HMAC-SHA256 signature';
  const [keyId = '', day = '', region, service, terminator] = (param('X-Amz-Credential') ?? '').split('/');
  const secret = options.keys[keyId];
  if (secret === undefined) return 'unknown access key';
  if (region !== options.region || service !== options.service || terminator !== 'aws4_request') {
    return 'wrong credential scope';
  }
  const amzDate = param('X-Amz-Date') ?? '';
  const signedAt = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  const expires = Number(param('X-Amz-Expires'));
  const now = (options.now?.() ?? new Date()).getTime();
  if (!Number.isFinite(signedAt) || !amzDate.startsWith(day) || !Number.isInteger(expires)) return 'bad date';
  if (now < signedAt - SKEW_MS || now > signedAt + expires * 1000) return 'expired';
  const unsigned: Record<string, string | string[] | null> = {};
  for (const [name, value] of Object.entries(query)) if (name !== 'X-Amz-Signature') unsigned[name] = value;
  const sessionToken = param('X-Amz-Security-Token');
  const signer = new SignatureV4({
    credentials: { accessKeyId: keyId, secretAccessKey: secret, ...(sessionToken ? { sessionToken } : {}) },
    region: options.region,
    service: options.service,
    sha256: Sha256,
  });
  const expected = await signer.presign(
    new HttpRequest({
      method: 'GET',
      hostname: 'placeholder',
      path: url.pathname,
      query: unsigned,
      headers: { host: req.headers.host ?? '' },
    }),
    { signingDate: new Date(signedAt), expiresIn: expires },
  );
  const want = Buffer.from(String(expected.query?.['X-Amz-Signature']));
  const got = Buffer.from(param('X-Amz-Signature') ?? '');
  return want.length === got.length && timingSafeEqual(want, got) ? undefined : 'signature does not match';
}

/** Starts the server on 127.0.0.1, any free port. */
export async function startSigV4Server(options: SigV4ServerOptions): Promise<SigV4Server> {
  const wss = new WebSocketServer({ noServer: true });
  const refusals: string[] = [];
  let accepted = 0;
  const server = createServer((_req, res) => res.writeHead(426).end());
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    void signatureProblem(req, options).then((problem) => {
      if (problem === undefined) {
        accepted += 1;
        wss.handleUpgrade(req, socket, head, () => {});
        return;
      }
      refusals.push(problem);
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    refusals,
    accepted: () => accepted,
    stop: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
