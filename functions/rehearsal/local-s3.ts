/**
 * The S3 of a rehearsal: the part of S3's REST API the functions call
 * (PutObject, GetObject, HeadObject, DeleteObject, ListObjectsV2), path-style,
 * on a folder: each object is a file at `<folder>/<bucket>/<key>`. A server,
 * not an adapter swapped in, because the rehearsal runs the bundles the stack
 * deploys, whose S3 client only needs its endpoint pointed here; a folder,
 * so what the functions wrote (shard results) can still be read after the
 * rehearsal. Only the template's buckets exist; requests are not
 * authenticated (the server listens on loopback only).
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

/** One S3 request as the endpoint received it. */
export interface S3Request {
  method: string;
  /** The decoded path, `/bucket/key…`. */
  pathname: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** Answers one path-style S3 request from the folder; returns the operation's name for the record. */
export async function answerS3(
  request: S3Request,
  response: ServerResponse,
  folder: string,
  buckets: ReadonlySet<string>,
): Promise<string> {
  const [, bucket = '', ...keyParts] = request.pathname.split('/');
  const key = keyParts.join('/');
  if (!buckets.has(bucket)) {
    sendError(response, 404, 'NoSuchBucket', `The specified bucket does not exist: ${bucket}`);
    return 'NoSuchBucket';
  }
  if (keyParts.some((part) => part === '..' || part === '.')) {
    sendError(response, 400, 'InvalidArgument', 'The key may not hold . or .. segments here');
    return 'InvalidKey';
  }
  const file = path.join(folder, bucket, ...keyParts);
  if (!key) {
    if (request.method === 'GET') return listObjects(response, folder, bucket, request.query);
    response.writeHead(200).end();
    return `${request.method} bucket`;
  }
  switch (request.method) {
    case 'PUT': {
      const body = isChunked(request.headers) ? decodeAwsChunked(request.body) : request.body;
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, body);
      response.writeHead(200, { ETag: etagOf(body) }).end();
      return 'PutObject';
    }
    case 'GET':
    case 'HEAD': {
      const body = await readFile(file).catch(() => undefined);
      const operation = request.method === 'GET' ? 'GetObject' : 'HeadObject';
      if (!body) {
        if (request.method === 'HEAD') response.writeHead(404).end();
        else sendError(response, 404, 'NoSuchKey', 'The specified key does not exist.', key);
        return operation;
      }
      response.writeHead(200, {
        'Content-Length': body.length,
        'Content-Type': contentTypeOf(key),
        ETag: etagOf(body),
        'Last-Modified': new Date().toUTCString(),
      });
      response.end(request.method === 'GET' ? body : undefined);
      return operation;
    }
    case 'DELETE':
      await rm(file, { force: true });
      response.writeHead(204).end();
      return 'DeleteObject';
    default:
      sendError(response, 405, 'MethodNotAllowed', `${request.method} is not supported here`);
      return request.method;
  }
}

async function listObjects(
  response: ServerResponse,
  folder: string,
  bucket: string,
  query: URLSearchParams,
): Promise<string> {
  const prefix = query.get('prefix') ?? '';
  const keys = (await filesUnder(path.join(folder, bucket))).filter((key) => key.startsWith(prefix)).sort();
  const contents = await Promise.all(
    keys.map(async (key) => {
      const info = await stat(path.join(folder, bucket, key));
      return (
        `<Contents><Key>${xmlEscape(key)}</Key><Size>${info.size}</Size>` +
        `<LastModified>${info.mtime.toISOString()}</LastModified><StorageClass>STANDARD</StorageClass></Contents>`
      );
    }),
  );
  response.writeHead(200, { 'Content-Type': 'application/xml' });
  response.end(
    '<?xml version="1.0" encoding="UTF-8"?>' +
      '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      `<Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(prefix)}</Prefix><KeyCount>${keys.length}</KeyCount>` +
      `<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${contents.join('')}</ListBucketResult>`,
  );
  return 'ListObjectsV2';
}

/** Every file under `root`, as keys relative to it with `/` separators. */
async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
}

function isChunked(headers: IncomingMessage['headers']): boolean {
  const encoding = String(headers['content-encoding'] ?? '');
  const sha = String(headers['x-amz-content-sha256'] ?? '');
  return encoding.includes('aws-chunked') || sha.startsWith('STREAMING-');
}

/** The payload of an `aws-chunked` body: `<hex size>[;chunk-signature=…]\r\n<data>\r\n` … `0\r\n` and trailers. */
function decodeAwsChunked(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < body.length) {
    const lineEnd = body.indexOf('\r\n', offset);
    if (lineEnd < 0) break;
    const size = parseInt(body.subarray(offset, lineEnd).toString('latin1').split(';')[0] ?? '0', 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

function etagOf(body: Buffer): string {
  return `"${createHash('md5').update(body).digest('hex')}"`;
}

function contentTypeOf(key: string): string {
  if (key.endsWith('.json')) return 'application/json';
  if (key.endsWith('.html')) return 'text/html; charset=utf-8';
  return 'application/octet-stream';
}

/** An S3 error document. */
function sendError(response: ServerResponse, status: number, code: string, message: string, key?: string): void {
  response.writeHead(status, { 'Content-Type': 'application/xml' });
  response.end(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>` +
      `${key === undefined ? '' : `<Key>${xmlEscape(key)}</Key>`}<RequestId>local</RequestId></Error>`,
  );
}

/** `text` safe inside XML. */
export function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (character) => `&#${character.charCodeAt(0)};`);
}
