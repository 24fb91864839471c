/**
 * The rehearsal's tables on the embedded store, created from a template as
 * it declares them: the stack's runs table (on demand, with its recent-runs
 * index) answers the index query the CLI lists runs with, and a provisioned
 * table gets its indexes' throughput; an existing table with other keys is
 * refused.
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { Template } from 'aws-cdk-lib/assertions';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../functions/adapters/embedded-dynamo.js';
import { createDeclaredTables, type DeclaredTable } from '../../functions/adapters/rehearsal-tables.js';
import { resolvedTemplate, type CloudTemplate } from '../../functions/rehearsal/cloud-template.js';
import { readRehearsalResources } from '../../functions/rehearsal/template-resources.js';
import { buildApp, removeAssemblies, stackOf, TEST_REGION } from '../support/cdk.js';
import { cappedRun } from '../support/run-results.js';

let folder: string;
let embedded: EmbeddedDynamo;

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-rehearsal-tables-'));
  embedded = await startEmbeddedDynamo({ directory: folder });
});

afterAll(async () => {
  await embedded.stop();
  await rm(folder, { recursive: true, force: true });
  removeAssemblies();
});

const keys = (...names: string[]) =>
  names.map((name, index) => ({ AttributeName: name, KeyType: index === 0 ? 'HASH' : 'RANGE' }));
const strings = (...names: string[]) => names.map((name) => ({ AttributeName: name, AttributeType: 'S' }));

describe('createDeclaredTables', () => {
  it("creates the stack's runs table with its on-demand index, which lists runs as deployed", async () => {
    const stack = stackOf(buildApp());
    const { tables } = readRehearsalResources(
      resolvedTemplate(Template.fromStack(stack).toJSON() as CloudTemplate, {
        stackName: stack.stackName,
        region: TEST_REGION,
        account: '000000000000',
      }),
    );
    expect(tables.map((table) => [table.name, table.billingMode])).toEqual([['ws-ceiling-runs', 'PAY_PER_REQUEST']]);
    await createDeclaredTables(embedded.client, tables);
    await createDeclaredTables(embedded.client, tables);

    const { Table } = await embedded.client.send(new DescribeTableCommand({ TableName: 'ws-ceiling-runs' }));
    expect(Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName)).toEqual(['recent-runs']);
    const store = new DynamoRunStore({ client: embedded.client, tableName: 'ws-ceiling-runs' });
    await store.putRun(cappedRun);
    expect((await store.recentRuns(5)).map((stored) => stored.runId)).toEqual([cappedRun.runId]);
  });

  it("gives a provisioned table's indexes their throughput, refuses a same-named table with other keys", async () => {
    const table: DeclaredTable = {
      name: 'provisioned',
      keySchema: keys('id'),
      attributeDefinitions: strings('id', 'kind'),
      billingMode: 'PROVISIONED',
      provisionedThroughput: { ReadCapacityUnits: 3, WriteCapacityUnits: 2 },
      globalSecondaryIndexes: [
        { IndexName: 'by-kind', KeySchema: keys('kind'), Projection: { ProjectionType: 'KEYS_ONLY' } },
      ],
    };
    await createDeclaredTables(embedded.client, [table]);
    const { Table } = await embedded.client.send(new DescribeTableCommand({ TableName: 'provisioned' }));
    expect(Table?.ProvisionedThroughput).toMatchObject({ ReadCapacityUnits: 3, WriteCapacityUnits: 2 });
    expect(Table?.GlobalSecondaryIndexes?.[0]?.ProvisionedThroughput).toMatchObject({ ReadCapacityUnits: 1 });

    await expect(createDeclaredTables(embedded.client, [{ ...table, keySchema: keys('kind') }])).rejects.toThrow(
      /--store: its table provisioned has the keys .*"id".*, but the template declares .*"kind"/,
    );
  });
});
