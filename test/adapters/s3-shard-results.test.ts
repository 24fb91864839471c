import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/core/serde';
import { mockClient } from 'aws-sdk-client-mock';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { S3ShardResults } from '../../functions/adapters/s3-shard-results.js';
import { StoreError } from '../../functions/engine/errors.js';
import { targetShardResultsPrefix } from '../../functions/steps/deployment-names.js';
import { shardResultKey } from '../../functions/steps/shard-results.js';
import type { ShardResult } from '../../functions/engine/types.js';
import { opened, refused } from '../support/records.js';

const s3 = mockClient(S3Client);
afterEach(() => s3.reset());

const BUCKET = 'shard-results-bucket';
const result: ShardResult = {
  shard: 2,
  records: [opened(0, 10), refused(0, 20, 503, '5')].map((record) => ({ ...record, shard: 2 })),
  loopDelay: [{ stage: 0, p99Ms: 11, maxMs: 19 }],
  stagesRun: 1,
  aborted: { failureClass: 'interrupted', message: 'worker 2 stopped 15 s before its Lambda deadline' },
};

function store(): S3ShardResults {
  return new S3ShardResults({ client: new S3Client({ region: 'eu-west-1' }), bucket: BUCKET });
}

/** A GetObject body as the SDK returns it: a stream with transformToString. */
function body(text: string) {
  return sdkStreamMixin(Readable.from([Buffer.from(text)]));
}

describe('shardResultKey', () => {
  it("puts every shard of a run under its target's prefix, then the run id", () => {
    expect(shardResultKey({ targetId: 'chat', runId: 'c9ee52a0' }, 0)).toBe('runs/chat/c9ee52a0/shard-0.json');
    expect(shardResultKey({ targetId: 'chat', runId: 'c9ee52a0' }, 12)).toBe('runs/chat/c9ee52a0/shard-12.json');
    expect(
      shardResultKey({ targetId: 'feed', runId: 'c9ee52a0' }, 0).startsWith(targetShardResultsPrefix('feed')),
    ).toBe(true);
  });
});

describe('S3ShardResults', () => {
  it('writes the whole shard result as JSON under the target, run and shard, and returns the key', async () => {
    s3.on(PutObjectCommand).resolves({});
    const key = await store().putShardResult({ targetId: 'chat', runId: 'run-9' }, result);
    expect(key).toBe('runs/chat/run-9/shard-2.json');
    const [call] = s3.commandCalls(PutObjectCommand);
    expect(call?.args[0].input).toMatchObject({ Bucket: BUCKET, Key: key, ContentType: 'application/json' });
    expect(JSON.parse(call?.args[0].input.Body as string)).toEqual(result);
  });

  it('reads a stored result back as it was written', async () => {
    s3.on(GetObjectCommand, { Bucket: BUCKET, Key: 'runs/chat/run-9/shard-2.json' }).resolves({
      Body: body(JSON.stringify(result)),
    });
    expect(await store().getShardResult('runs/chat/run-9/shard-2.json')).toEqual(result);
  });

  it('answers undefined for a missing object, so the record step can report the shard as lost', async () => {
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }));
    expect(await store().getShardResult('runs/chat/run-9/shard-7.json')).toBeUndefined();
  });

  it('names the bucket, key and S3 error when a write fails', async () => {
    s3.on(PutObjectCommand).rejects(
      new S3ServiceException({ name: 'AccessDenied', $fault: 'client', message: 'Access Denied', $metadata: {} }),
    );
    const failure = store().putShardResult({ targetId: 'chat', runId: 'run-9' }, result);
    await expect(failure).rejects.toBeInstanceOf(StoreError);
    await expect(failure).rejects.toThrow(
      'cannot write shard result s3://shard-results-bucket/runs/chat/run-9/shard-2.json: AccessDenied: Access Denied',
    );
  });

  it('names the key when a read fails for another reason than a missing object', async () => {
    s3.on(GetObjectCommand).rejects(
      new S3ServiceException({
        name: 'SlowDown',
        $fault: 'server',
        message: 'Please reduce your request rate.',
        $metadata: {},
      }),
    );
    await expect(store().getShardResult('runs/chat/run-9/shard-2.json')).rejects.toThrow(
      'cannot read shard result s3://shard-results-bucket/runs/chat/run-9/shard-2.json: SlowDown',
    );
  });
});
