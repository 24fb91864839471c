/**
 * The AWS SDK clients the CLI uses against a deployed region (`invoke`,
 * `stop`, `pause`, `resume`, `history --region`), made in one place so the
 * commands can be handed mocked ones in tests. Credentials come from the
 * usual AWS chain (environment, profile, SSO).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';

/** The clients of one region. */
export interface DeployedClients {
  sfn: SFNClient;
  scheduler: SchedulerClient;
  dynamo: DynamoDBClient;
}

/** Makes the clients of a region. */
export type DeployedClientsFactory = (region: string) => DeployedClients;

/** Clients for `region` with the default credential chain. */
export function createDeployedClients(region: string): DeployedClients {
  return {
    sfn: new SFNClient({ region }),
    scheduler: new SchedulerClient({ region }),
    dynamo: new DynamoDBClient({ region }),
  };
}

/** Releases the clients' connections. */
export function destroyDeployedClients(clients: DeployedClients): void {
  clients.sfn.destroy();
  clients.scheduler.destroy();
  clients.dynamo.destroy();
}
