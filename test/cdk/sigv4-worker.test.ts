// The template of a target with `auth: {kind: "sigv4"}` and a session (issue 14): its worker's role may
// execute-api:Invoke the $connect route of that one API (any stage) and read the secret its init message names; a
// target without auth gets no execute-api permission; cdk-nag passes with the route's wildcard explained.
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config/target-config.js';
import { checkWithCdkNag } from '../../lib/probe-app.js';
import type { RegionStack } from '../../lib/region-stack.js';
import {
  actionsOfRole,
  buildApp,
  logicalIdOf,
  probeTargetOf,
  removeAssemblies,
  stackOf,
  statementsOfRole,
  TEST_ACCOUNT,
} from '../support/cdk.js';

const API_HOST = 'a1b2c3d4e5.execute-api.us-east-1.amazonaws.com';
const schedule = { cron: '0 2 * * ? *', timeZone: 'UTC' };

let stack: RegionStack;
let template: Template;
beforeAll(() => {
  const config = parseConfig(
    {
      allowedHosts: [API_HOST, 'chat.example.com'],
      targets: [
        {
          id: 'signed',
          url: `wss://${API_HOST}/prod`,
          regions: ['eu-west-1'],
          schedule,
          auth: { kind: 'sigv4' },
          session: { initMessages: [{ secretName: 'signed/init' }], readyWhen: 'connection_ack' },
        },
        { id: 'plain', url: 'wss://chat.example.com/socket', regions: ['eu-west-1'], schedule },
      ],
    },
    'test config',
  );
  const built = buildApp(config);
  checkWithCdkNag(built.app);
  built.app.synth();
  stack = stackOf(built);
  template = Template.fromStack(stack);
});
afterAll(removeAssemblies);

const workerRole = (id: string) => logicalIdOf(probeTargetOf(stack, id).worker.role);

describe('the worker of a SigV4 target', () => {
  it("may invoke $connect of its one API in any stage, and read its init message's secret", () => {
    const statements = statementsOfRole(template, workerRole('signed'));
    expect(statements.filter((statement) => statement.Action === 'execute-api:Invoke')).toEqual([
      {
        Effect: 'Allow',
        Action: 'execute-api:Invoke',
        Resource: `arn:aws:execute-api:us-east-1:${TEST_ACCOUNT}:a1b2c3d4e5/*/$connect`,
      },
    ]);
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: `arn:aws:secretsmanager:eu-west-1:${TEST_ACCOUNT}:secret:signed/init-??????`,
    });
  });

  it('is the only worker that may invoke an API', () => {
    expect(actionsOfRole(template, workerRole('plain'))).not.toContain('execute-api:Invoke');
    expect(actionsOfRole(template, workerRole('signed'))).toContain('execute-api:Invoke');
  });
});
