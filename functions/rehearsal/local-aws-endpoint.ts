/**
 * One HTTP endpoint on 127.0.0.1 standing in for the AWS services a
 * rehearsal's functions call (their SDK clients are pointed at it with
 * `AWS_ENDPOINT_URL_<SERVICE>`). Requests are routed by the service named in
 * their SigV4 credential scope:
 * - `s3`: the objects, on a folder (local-s3.ts); the objects written are listed;
 * - `monitoring` (CloudWatch): PutMetricData is captured, for the alarms;
 * - `sns`: Publish is captured (query or JSON protocol);
 * - `secretsmanager`: GetSecretValue answers from the values the rehearsal
 *   was given (from the environment or a file, never stored);
 * - anything else is refused with an error naming it, and recorded, so a
 *   call the rehearsal does not stand in for shows in its output instead of
 *   reaching AWS.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { answerS3, xmlEscape } from './local-s3.js';

/** Largest request body accepted, bytes. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** A datapoint a function published with PutMetricData. */
export interface CapturedDatapoint {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  /** Epoch milliseconds. */
  timestamp: number;
  unit: string;
  /** The values, each `count` times (one value, count 1, for a plain PutMetricData). */
  values: Array<{ value: number; count: number }>;
}

/** A message a function published to a topic. */
export interface CapturedMessage {
  topicArn: string;
  subject: string | undefined;
  /** As published: with `structure` `json`, a JSON object of one body per protocol. */
  message: string;
  /** The MessageStructure it was published with, when one was given. */
  structure?: string;
}

/** An object a function wrote to a bucket. */
export interface WrittenObject {
  bucket: string;
  key: string;
  /** Where it is on this machine. */
  file: string;
}

/** What the endpoint stands in for. */
export interface LocalAwsOptions {
  /** Folder the bucket objects are kept in. */
  s3Folder: string;
  /** The buckets that exist (the template's). */
  buckets: readonly string[];
  /** The topics that exist (their ARNs). */
  topics: readonly string[];
  /** Secret values by secret name (never written anywhere). */
  secrets: ReadonlyMap<string, string>;
}

/** A running endpoint and what it captured. */
export interface LocalAws {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  metrics: CapturedDatapoint[];
  messages: CapturedMessage[];
  /** Objects written (PutObject), in order. */
  objects: WrittenObject[];
  /** Calls it refused as not stood in for: `service Operation`, once each. */
  unsupported: string[];
  /** Secret names a function asked for and did not get. */
  missingSecrets: string[];
  /** Records a message published by a state machine's own SNS task. */
  publish(message: CapturedMessage): string;
  stop(): Promise<void>;
}

/** Starts the endpoint on a free loopback port. */
export async function startLocalAws(options: LocalAwsOptions): Promise<LocalAws> {
  const buckets = new Set(options.buckets);
  const topics = new Set(options.topics);
  const state: Omit<LocalAws, 'endpoint' | 'stop'> = {
    metrics: [],
    messages: [],
    objects: [],
    unsupported: [],
    missingSecrets: [],
    publish: (message) => {
      state.messages.push(message);
      return randomUUID();
    },
  };
  const unsupported = (what: string): void => {
    if (!state.unsupported.includes(what)) state.unsupported.push(what);
  };
  const server = createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'Content-Type': 'text/plain' });
      response.end(error instanceof Error ? error.message : String(error));
    });
  });
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const body = await readBody(request);
    const url = new URL(request.url ?? '/', 'http://localhost');
    const service = serviceOf(request.headers.authorization ?? url.searchParams.get('X-Amz-Credential') ?? '');
    const target = String(request.headers['x-amz-target'] ?? '');
    switch (service) {
      case 's3': {
        const pathname = decodeURIComponent(url.pathname);
        const operation = await answerS3(
          { method: request.method ?? 'GET', pathname, query: url.searchParams, headers: request.headers, body },
          response,
          options.s3Folder,
          buckets,
        );
        if (operation === 'PutObject') {
          const [, bucket = '', ...key] = pathname.split('/');
          state.objects.push({ bucket, key: key.join('/'), file: path.join(options.s3Folder, bucket, ...key) });
        }
        return;
      }
      case 'monitoring':
        if (target.endsWith('.PutMetricData')) {
          state.metrics.push(...datapointsOf(JSON.parse(body.toString('utf8') || '{}') as PutMetricDataBody));
          sendJson(response, 200, {}, '1.0');
        } else refuseJson(response, `CloudWatch ${target.split('.').pop() ?? 'request'}`, unsupported, '1.0');
        return;
      case 'sns':
        answerSns(request, body, response, topics, state.publish, unsupported);
        return;
      case 'secretsmanager':
        if (target === 'secretsmanager.GetSecretValue') answerSecret(body, response, options.secrets, state);
        else refuseJson(response, `Secrets Manager ${target.split('.').pop() ?? 'request'}`, unsupported, '1.1');
        return;
      default:
        refuseJson(
          response,
          `${service || 'unknown service'} ${target || request.method || ''}`.trim(),
          unsupported,
          '1.0',
        );
    }
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    ...state,
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The service of a SigV4 `Authorization` header or `X-Amz-Credential`: `…/<date>/<region>/<service>/aws4_request`. */
function serviceOf(credential: string): string {
  return /\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(credential)?.[1] ?? '';
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error(`request body above ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

interface PutMetricDataBody {
  Namespace?: string;
  MetricData?: Array<{
    MetricName?: string;
    Dimensions?: Array<{ Name?: string; Value?: string }>;
    Timestamp?: number | string;
    Value?: number;
    Values?: number[];
    Counts?: number[];
    StatisticValues?: { SampleCount: number; Sum: number; Minimum: number; Maximum: number };
    Unit?: string;
  }>;
}

/** The datapoints of a PutMetricData request (JSON protocol: timestamps in epoch seconds). */
function datapointsOf(body: PutMetricDataBody): CapturedDatapoint[] {
  return (body.MetricData ?? []).map((datum) => {
    const stamp = datum.Timestamp;
    const timestamp =
      stamp === undefined ? Date.now() : typeof stamp === 'number' ? stamp * 1000 : new Date(stamp).getTime();
    const statistics = datum.StatisticValues;
    const values = statistics
      ? [
          { value: statistics.Minimum, count: 1 },
          { value: statistics.Maximum, count: 1 },
          ...(statistics.SampleCount > 2
            ? [
                {
                  value: (statistics.Sum - statistics.Minimum - statistics.Maximum) / (statistics.SampleCount - 2),
                  count: statistics.SampleCount - 2,
                },
              ]
            : []),
        ]
      : datum.Values
        ? datum.Values.map((value, index) => ({ value, count: datum.Counts?.[index] ?? 1 }))
        : [{ value: datum.Value ?? 0, count: 1 }];
    return {
      namespace: body.Namespace ?? '',
      name: datum.MetricName ?? '',
      dimensions: Object.fromEntries((datum.Dimensions ?? []).map((d) => [d.Name ?? '', d.Value ?? ''])),
      timestamp,
      unit: datum.Unit ?? 'None',
      values,
    };
  });
}

/** SNS Publish, in the query protocol (form body, XML answer) or the JSON one. */
function answerSns(
  request: IncomingMessage,
  body: Buffer,
  response: ServerResponse,
  topics: ReadonlySet<string>,
  publish: (message: CapturedMessage) => string,
  unsupported: (what: string) => void,
): void {
  const isJson = String(request.headers['content-type'] ?? '').includes('json');
  const fields = isJson
    ? (JSON.parse(body.toString('utf8') || '{}') as Record<string, string>)
    : Object.fromEntries(new URLSearchParams(body.toString('utf8')));
  const action = isJson
    ? String(request.headers['x-amz-target'] ?? '')
        .split('.')
        .pop()
    : fields.Action;
  if (action !== 'Publish') {
    if (isJson) refuseJson(response, `SNS ${action ?? 'request'}`, unsupported, '1.0');
    else refuseQuery(response, `SNS ${action ?? 'request'}`, unsupported);
    return;
  }
  const topicArn = fields.TopicArn ?? fields.TargetArn ?? '';
  if (!topics.has(topicArn)) {
    const message = `Topic does not exist: ${topicArn}`;
    if (isJson) sendJson(response, 404, { __type: 'NotFoundException', message }, '1.0');
    else sendQueryError(response, 404, 'NotFound', message);
    return;
  }
  const messageId = publish({
    topicArn,
    subject: fields.Subject,
    message: fields.Message ?? '',
    ...(fields.MessageStructure ? { structure: fields.MessageStructure } : {}),
  });
  if (isJson) sendJson(response, 200, { MessageId: messageId }, '1.0');
  else {
    response.writeHead(200, { 'Content-Type': 'text/xml' });
    response.end(
      '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>' +
        `<MessageId>${messageId}</MessageId></PublishResult><ResponseMetadata><RequestId>${randomUUID()}` +
        '</RequestId></ResponseMetadata></PublishResponse>',
    );
  }
}

/** GetSecretValue from the given values; a secret the rehearsal was not given is not found, as in AWS. */
function answerSecret(
  body: Buffer,
  response: ServerResponse,
  secrets: ReadonlyMap<string, string>,
  state: { missingSecrets: string[] },
): void {
  const { SecretId: id = '' } = JSON.parse(body.toString('utf8') || '{}') as { SecretId?: string };
  const name = /^arn:aws:secretsmanager:[^:]+:[^:]+:secret:(.+?)(-[A-Za-z0-9]{6})?$/.exec(id)?.[1] ?? id;
  const value = secrets.get(name);
  if (value === undefined) {
    if (!state.missingSecrets.includes(name)) state.missingSecrets.push(name);
    sendJson(
      response,
      400,
      { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." },
      '1.1',
    );
    return;
  }
  sendJson(
    response,
    200,
    {
      ARN: `arn:aws:secretsmanager:local:000000000000:secret:${name}-local0`,
      Name: name,
      SecretString: value,
      VersionId: 'local',
      VersionStages: ['AWSCURRENT'],
      CreatedDate: Math.floor(Date.now() / 1000),
    },
    '1.1',
  );
}

function sendJson(response: ServerResponse, status: number, body: unknown, version: '1.0' | '1.1'): void {
  response.writeHead(status, { 'Content-Type': `application/x-amz-json-${version}` });
  response.end(JSON.stringify(body));
}

function refuseJson(
  response: ServerResponse,
  what: string,
  unsupported: (what: string) => void,
  version: '1.0' | '1.1',
): void {
  unsupported(what);
  sendJson(
    response,
    400,
    { __type: 'UnsupportedOperation', message: `${what} is not stood in for by rehearse` },
    version,
  );
}

function refuseQuery(response: ServerResponse, what: string, unsupported: (what: string) => void): void {
  unsupported(what);
  sendQueryError(response, 400, 'UnsupportedOperation', `${what} is not stood in for by rehearse`);
}

function sendQueryError(response: ServerResponse, status: number, code: string, message: string): void {
  response.writeHead(status, { 'Content-Type': 'text/xml' });
  response.end(
    `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error>` +
      '<RequestId>local</RequestId></ErrorResponse>',
  );
}
