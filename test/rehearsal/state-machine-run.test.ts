/**
 * The interpreter wrapper: a definition is made to mean here what it means
 * in AWS (Task timeouts, a Distributed Map run inline, with a note), and an
 * execution reports its status, error and the timing of its top-level states,
 * with Retry and Catch applied to the errors the invoker throws.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { resolvedTemplate, type CloudTemplate } from '../../functions/rehearsal/cloud-template.js';
import { prepareDefinition, runStateMachine, type TaskCall } from '../../functions/rehearsal/state-machine-run.js';
import { readRehearsalResources } from '../../functions/rehearsal/template-resources.js';
import { buildApp, removeAssemblies, stackOf, TEST_REGION } from '../support/cdk.js';

afterAll(() => removeAssemblies());

/** A Lambda-shaped failure, as the rehearsal's invoker throws it. */
function lambdaError(errorType: string): Error {
  return Object.assign(new Error(JSON.stringify({ errorType, errorMessage: 'boom' })), { name: errorType });
}

describe('prepareDefinition', () => {
  it("runs the stack's Distributed Map (50 shards) inline with a note, and gives Tasks AWS's unbounded timeout", () => {
    const stack = stackOf(buildApp());
    const resources = readRehearsalResources(
      resolvedTemplate(Template.fromStack(stack).toJSON() as CloudTemplate, {
        stackName: stack.stackName,
        region: TEST_REGION,
        account: '000000000000',
      }),
    );
    const bulk = resources.stateMachines.find((machine) => machine.name === 'ws-ceiling-bulk');
    const prepared = prepareDefinition(bulk?.definition ?? {});
    const shards = (prepared.definition.States as Record<string, Record<string, unknown>>).Shards;
    expect(shards?.MaxConcurrency).toBe(50);
    expect(shards?.ItemProcessor).not.toHaveProperty('ProcessorConfig');
    expect(prepared.notes).toContain(
      'The Distributed Map Shards runs as an inline map of the same items, 50 at once: the interpreter has no child ' +
        'executions.',
    );
    expect([...prepared.tasks.keys()]).toEqual(['Plan', 'Worker', 'Record', 'ReleaseLock']);
    expect(prepared.tasks.get('ReleaseLock')).toEqual({ ...prepared.tasks.get('Record'), inMap: false });
    expect(prepared.tasks.get('Worker')).toEqual({
      resource: expect.stringMatching(/:function:/) as unknown,
      inMap: true,
    });
    const worker = (shards?.ItemProcessor as { States: Record<string, { TimeoutSeconds?: number }> }).States.Worker;
    expect(worker?.TimeoutSeconds).toBeGreaterThan(2_000_000);
  });
});

describe('runStateMachine', () => {
  const definition = {
    StartAt: 'Plan',
    States: {
      Plan: { Type: 'Task', Resource: 'arn:aws:lambda:eu-west-1:0:function:plan', Next: 'Shards' },
      Shards: {
        Type: 'Map',
        ItemsPath: '$.items',
        ResultPath: '$.shards',
        MaxConcurrency: 2,
        ItemProcessor: {
          StartAt: 'Worker',
          States: {
            Worker: {
              Type: 'Task',
              Resource: 'arn:aws:lambda:eu-west-1:0:function:worker',
              End: true,
              Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.caught', Next: 'Failed' }],
            },
            Failed: { Type: 'Pass', Parameters: { 'error.$': '$.caught.Error' }, End: true },
          },
        },
        Next: 'Record',
      },
      Record: {
        Type: 'Task',
        Resource: 'arn:aws:lambda:eu-west-1:0:function:record',
        Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 0.05, MaxAttempts: 2, BackoffRate: 1 }],
        End: true,
      },
    },
  };

  it('hands every Task to the invoker, catches a failed worker in its iteration, retries the record step', async () => {
    const calls: TaskCall[] = [];
    let recordTries = 0;
    const execution = await runStateMachine(prepareDefinition(definition), { items: [1, 2] }, (call) => {
      calls.push(call);
      if (call.state === 'Plan') return Promise.resolve({ items: [{ n: 0 }, { n: 1 }] });
      if (call.state === 'Worker')
        return (call.input as { n: number }).n === 1
          ? Promise.reject(lambdaError('Sandbox.Timedout'))
          : Promise.resolve('ok');
      recordTries += 1;
      return recordTries < 2 ? Promise.reject(lambdaError('Error')) : Promise.resolve({ verdict: 'inconclusive' });
    });
    expect(execution).toMatchObject({ status: 'SUCCEEDED', output: { verdict: 'inconclusive' } });
    expect(calls.filter((call) => call.state === 'Worker').map((call) => call.inMap)).toEqual([true, true]);
    expect(calls.find((call) => call.state === 'Record')?.input).toEqual({
      items: [{ n: 0 }, { n: 1 }],
      shards: ['ok', { error: 'Sandbox.Timedout' }],
    });
    expect(recordTries).toBe(2);
    expect(execution.states.map((state) => state.name)).toEqual(['Plan', 'Shards', 'Record']);
    expect(execution.states.every((state) => state.exitedAt !== null && state.exitedAt >= state.enteredAt)).toBe(true);
  });

  it('fails the execution with the error and cause of a step that runs out of retries', async () => {
    const execution = await runStateMachine(prepareDefinition(definition), {}, (call) =>
      call.state === 'Plan' ? Promise.reject(lambdaError('Runtime.ExitError')) : Promise.resolve({}),
    );
    expect(execution).toMatchObject({
      status: 'FAILED',
      error: 'Runtime.ExitError',
      cause: JSON.stringify({ errorType: 'Runtime.ExitError', errorMessage: 'boom' }),
    });
  });

  it('aborts the execution when its signal fires', async () => {
    const controller = new AbortController();
    const running = runStateMachine(
      prepareDefinition(definition),
      {},
      () => new Promise((resolve) => setTimeout(() => resolve({ items: [] }), 5000)),
      controller.signal,
    );
    setTimeout(() => controller.abort(), 100);
    expect((await running).status).toBe('ABORTED');
  });
});
