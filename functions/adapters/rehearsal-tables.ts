/**
 * DynamoDB for `ws-ceiling rehearse`, on the embedded store: creates the
 * tables a synthesized template declares (keys, attribute definitions,
 * billing and indexes as the template has them) and answers a state machine's own
 * DynamoDB tasks (`arn:aws:states:::dynamodb:getItem` and the like), whose
 * parameters are the API's own requests.
 */
import {
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  waitUntilTableExists,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceInUseException,
  UpdateItemCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { isAwsError } from './dynamo-errors.js';
import { InvalidInputError } from '../engine/errors.js';

/** A table as the template declares it. */
export interface DeclaredTable {
  name: string;
  keySchema: Array<{ AttributeName: string; KeyType: string }>;
  attributeDefinitions: Array<{ AttributeName: string; AttributeType: string }>;
  /** `PAY_PER_REQUEST` or `PROVISIONED`. */
  billingMode: string;
  provisionedThroughput?: Record<string, unknown>;
  globalSecondaryIndexes?: Array<Record<string, unknown>>;
  localSecondaryIndexes?: Array<Record<string, unknown>>;
}

/** How long a created table may take to become ACTIVE in the embedded store. */
const TABLE_ACTIVE_TIMEOUT_SECONDS = 10;

/**
 * Creates each table that does not exist yet and waits until all are ACTIVE
 * (the embedded store answers ResourceNotFound on a table still CREATING). A
 * table that exists must have the declared key schema; otherwise the store
 * holds another table by that name and the rehearsal is refused
 * (InvalidInputError on --store).
 */
export async function createDeclaredTables(client: DynamoDBClient, tables: readonly DeclaredTable[]): Promise<void> {
  for (const table of tables) await createUnlessExists(client, table);
  for (const table of tables) {
    await waitUntilTableExists(
      { client, maxWaitTime: TABLE_ACTIVE_TIMEOUT_SECONDS, minDelay: 1, maxDelay: 1 },
      { TableName: table.name },
    );
  }
}

/** CreateTable of one declared table; an existing one must have the declared keys. */
async function createUnlessExists(client: DynamoDBClient, table: DeclaredTable): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(table)));
  } catch (error) {
    if (!isAwsError(error, ResourceInUseException)) throw error;
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table.name }));
    const have = JSON.stringify(Table?.KeySchema ?? []);
    if (have !== JSON.stringify(table.keySchema)) {
      throw new InvalidInputError(
        '--store',
        `its table ${table.name} has the keys ${have}, but the template declares ${JSON.stringify(table.keySchema)}` +
          ': use another --store for rehearsals of this template',
      );
    }
  }
}

/**
 * The fields of a template's index that CreateTable takes (the template may
 * carry others, e.g. contributor insights).
 */
const INDEX_FIELDS = ['IndexName', 'KeySchema', 'Projection'];

/**
 * CreateTable of a declared table, billed as the template bills it: on
 * demand, no throughput anywhere (DynamoDB refuses one on an index then);
 * provisioned, the template's throughput on the table and each global index
 * (one unit each when it gives none, as the embedded store never throttles).
 */
function createTableInput(table: DeclaredTable): CreateTableCommandInput {
  const provisioned = table.billingMode === 'PROVISIONED';
  const throughputOf = (given: unknown) =>
    provisioned ? { ProvisionedThroughput: given ?? { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } } : {};
  const indexOf = (index: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(index).filter(([field]) => INDEX_FIELDS.includes(field)));
  return {
    TableName: table.name,
    KeySchema: table.keySchema as CreateTableCommandInput['KeySchema'],
    AttributeDefinitions: table.attributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
    BillingMode: provisioned ? 'PROVISIONED' : 'PAY_PER_REQUEST',
    ...(throughputOf(table.provisionedThroughput) as Pick<CreateTableCommandInput, 'ProvisionedThroughput'>),
    ...(table.globalSecondaryIndexes
      ? {
          GlobalSecondaryIndexes: table.globalSecondaryIndexes.map((index) => ({
            ...indexOf(index),
            ...throughputOf(index.ProvisionedThroughput),
          })) as CreateTableCommandInput['GlobalSecondaryIndexes'],
        }
      : {}),
    ...(table.localSecondaryIndexes
      ? {
          LocalSecondaryIndexes: table.localSecondaryIndexes.map(
            indexOf,
          ) as unknown as CreateTableCommandInput['LocalSecondaryIndexes'],
        }
      : {}),
  };
}

/** Sends one DynamoDB action of a state machine task, or undefined for one not stood in for. */
function sendAction(client: DynamoDBClient, action: string, input: never): Promise<{ $metadata: unknown }> | undefined {
  switch (action) {
    case 'getItem':
      return client.send(new GetItemCommand(input));
    case 'putItem':
      return client.send(new PutItemCommand(input));
    case 'updateItem':
      return client.send(new UpdateItemCommand(input));
    case 'deleteItem':
      return client.send(new DeleteItemCommand(input));
    case 'query':
      return client.send(new QueryCommand(input));
    default:
      return undefined;
  }
}

/**
 * Runs one DynamoDB task of a state machine (`action` as in
 * `arn:aws:states:::dynamodb:<action>`); throws an Error named
 * `DynamoDB.<error name>` as Step Functions reports it.
 */
export async function runDynamoTask(client: DynamoDBClient, action: string, parameters: unknown): Promise<unknown> {
  const sent = sendAction(client, action, parameters as never);
  if (!sent) {
    throw Object.assign(new Error(`dynamodb:${action} is not stood in for by rehearse`), { name: 'States.Runtime' });
  }
  try {
    const { $metadata: _metadata, ...output } = await sent;
    return output;
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    throw Object.assign(new Error(failure.message), { name: `DynamoDB.${failure.name}` });
  }
}
