/**
 * The loopback stand-in for S3, CloudWatch, SNS and Secrets Manager, driven
 * by the AWS SDK clients the handlers bundle (pointed at it with
 * AWS_ENDPOINT_URL, as a rehearsal's functions are), and by a raw query-protocol
 * request for SNS: objects on a folder, captured metrics and messages, secrets
 * from the given values only, and a refusal that names any other call.
 */
import { CloudWatchClient, GetMetricDataCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAws, type LocalAws } from '../../functions/rehearsal/local-aws-endpoint.js';

const TOPIC = 'arn:aws:sns:eu-west-1:000000000000:alarms';
let folder: string;
let local: LocalAws;
let config: { region: string; endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } };

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-local-aws-'));
  local = await startLocalAws({
    s3Folder: folder,
    buckets: ['shard-results'],
    topics: [TOPIC],
    secrets: new Map([['chat/token', 'tok-1']]),
  });
  config = { region: 'eu-west-1', endpoint: local.endpoint, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } };
});

afterAll(async () => {
  await local.stop();
  await rm(folder, { recursive: true, force: true });
});

describe('the local AWS endpoint', () => {
  it('keeps S3 objects on its folder: put, get, list, and NoSuchKey or NoSuchBucket as S3 answers', async () => {
    const s3 = new S3Client(config);
    await s3.send(new PutObjectCommand({ Bucket: 'shard-results', Key: 'runs/chat/r1/shard-0.json', Body: '{"a":1}' }));
    expect(await readFile(path.join(folder, 'shard-results', 'runs', 'chat', 'r1', 'shard-0.json'), 'utf8')).toBe(
      '{"a":1}',
    );
    const got = await s3.send(new GetObjectCommand({ Bucket: 'shard-results', Key: 'runs/chat/r1/shard-0.json' }));
    expect(await got.Body?.transformToString()).toBe('{"a":1}');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'shard-results', Prefix: 'runs/chat/' }));
    expect(listed.Contents?.map((object) => object.Key)).toEqual(['runs/chat/r1/shard-0.json']);
    await expect(s3.send(new GetObjectCommand({ Bucket: 'shard-results', Key: 'runs/none' }))).rejects.toMatchObject({
      name: 'NoSuchKey',
    });
    await expect(s3.send(new PutObjectCommand({ Bucket: 'other', Key: 'x', Body: 'y' }))).rejects.toMatchObject({
      name: 'NoSuchBucket',
    });
    s3.destroy();
  });

  it('captures PutMetricData and refuses, and records, a call it does not stand in for', async () => {
    const cloudWatch = new CloudWatchClient(config);
    const timestamp = new Date('2026-03-01T02:00:00Z');
    await cloudWatch.send(
      new PutMetricDataCommand({
        Namespace: 'WsCeiling',
        MetricData: [
          {
            MetricName: 'Ceiling',
            Value: 150,
            Unit: 'Count',
            Timestamp: timestamp,
            Dimensions: [{ Name: 'Target', Value: 'chat' }],
          },
        ],
      }),
    );
    expect(local.metrics).toEqual([
      {
        namespace: 'WsCeiling',
        name: 'Ceiling',
        dimensions: { Target: 'chat' },
        timestamp: timestamp.getTime(),
        unit: 'Count',
        values: [{ value: 150, count: 1 }],
      },
    ]);
    await expect(
      cloudWatch.send(new GetMetricDataCommand({ MetricDataQueries: [], StartTime: timestamp, EndTime: timestamp })),
    ).rejects.toThrow(/not stood in for by rehearse/);
    expect(local.unsupported).toEqual(['CloudWatch GetMetricData']);
    cloudWatch.destroy();
  });

  it('answers GetSecretValue from the given values only', async () => {
    const secrets = new SecretsManagerClient(config);
    const found = await secrets.send(new GetSecretValueCommand({ SecretId: 'chat/token' }));
    expect(found.SecretString).toBe('tok-1');
    await expect(secrets.send(new GetSecretValueCommand({ SecretId: 'other' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    expect(local.missingSecrets).toEqual(['other']);
    secrets.destroy();
  });

  it('captures an SNS Publish to a topic of the template (query protocol), and refuses another topic', async () => {
    const publish = (topic: string) =>
      fetch(local.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: 'AWS4-HMAC-SHA256 Credential=a/20260301/eu-west-1/sns/aws4_request, Signature=x',
        },
        body: new URLSearchParams({ Action: 'Publish', TopicArn: topic, Subject: 'Regressed', Message: 'chat fell' }),
      });
    const answer = await publish(TOPIC);
    expect(answer.status).toBe(200);
    expect(await answer.text()).toMatch(/<MessageId>[0-9a-f-]{36}<\/MessageId>/);
    expect(local.messages).toEqual([{ topicArn: TOPIC, subject: 'Regressed', message: 'chat fell' }]);
    expect((await publish('arn:aws:sns:eu-west-1:000000000000:nope')).status).toBe(404);
  });
});
