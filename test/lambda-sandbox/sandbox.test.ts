/**
 * The sandbox runs a call in its own process with Lambda's limits: a
 * descriptor limit of 1024, the memory size (resident memory above it kills
 * the call), the timeout, and only the environment it is given. Failures come
 * back as Lambda reports them. Runs the compiled child entry (npm run build).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callInSandbox, signalSandboxes, type SandboxFunction } from '../../functions/lambda-sandbox/sandbox.js';

let folder: string;
let modulePath: string;

/** A module with a few exports that show what the child sees. */
const MODULE = `
import { readFileSync } from 'node:fs';
export async function inspect(event, context) {
  const lines = readFileSync('/proc/self/limits', 'utf8').split('\\n');
  const limits = lines.find((line) => line.startsWith('Max open files'));
  return {
    echo: event,
    pid: process.pid,
    limits,
    secret: process.env.PARENT_ONLY ?? null,
    given: process.env.GIVEN ?? null,
    memory: context.memoryLimitInMB,
    remainingMs: context.getRemainingTimeInMillis(),
    requestId: context.awsRequestId,
    now: Date.now(),
  };
}
export async function fail() {
  const error = new Error('the target config is wrong');
  error.name = 'InvalidInputError';
  throw error;
}
export function hang() {
  return new Promise(() => setInterval(() => undefined, 1000));
}
`;

function fn(exportName: string, overrides: Partial<SandboxFunction> = {}): SandboxFunction {
  return {
    name: `test-${exportName}`,
    modulePath,
    exportName,
    limits: { memoryMb: 256, timeoutSeconds: 10 },
    environment: { GIVEN: 'yes' },
    ...overrides,
  };
}

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-sandbox-'));
  modulePath = path.join(folder, 'module.mjs');
  await writeFile(modulePath, MODULE);
  process.env.PARENT_ONLY = 'do-not-pass';
});

afterAll(async () => {
  delete process.env.PARENT_ONLY;
  await rm(folder, { recursive: true, force: true });
});

describe('callInSandbox', () => {
  it("runs a call in its own process with Lambda's descriptor limit, its memory size, only its env", async () => {
    const call = await callInSandbox(fn('inspect'), { hello: 'world' }, { requestId: 'req-1' });
    expect(call.outcome.ok).toBe(true);
    const value = (call.outcome as { value: Record<string, unknown> }).value;
    expect(value.echo).toEqual({ hello: 'world' });
    expect(value.pid).toBe(call.pid);
    expect(call.pid).not.toBe(process.pid);
    expect(value.limits).toMatch(/^Max open files\s+1024\s+1024\s+files/);
    expect(value.secret).toBeNull();
    expect(value.given).toBe('yes');
    expect(value.memory).toBe('256');
    expect(value.requestId).toBe('req-1');
    expect(value.remainingMs).toBeGreaterThan(5000);
    expect(value.remainingMs).toBeLessThanOrEqual(10_000);
    expect(call.coldStartMs).toBeGreaterThan(0);
    expect(call.readyAt).toBeGreaterThanOrEqual(call.spawnedAt);
  });

  it('shifts the clock of the child when asked', async () => {
    const before = Date.now();
    const call = await callInSandbox(fn('inspect'), {}, { clockOffsetMs: -60_000 });
    const now = (call.outcome as { value: { now: number } }).value.now;
    expect(now).toBeLessThan(before - 50_000);
  });

  it("reports a thrown error as Lambda does: the error's name as its type, with the message and trace", async () => {
    const call = await callInSandbox(fn('fail'), {});
    expect(call.outcome).toMatchObject({
      ok: false,
      error: { errorType: 'InvalidInputError', errorMessage: 'the target config is wrong' },
    });
  });

  it('kills a call at its timeout: Sandbox.Timedout', async () => {
    const call = await callInSandbox(
      fn('hang', { limits: { memoryMb: 128, timeoutSeconds: 1 } }),
      {},
      {
        requestId: 'req-2',
      },
    );
    expect(call.outcome).toEqual({
      ok: false,
      error: {
        errorType: 'Sandbox.Timedout',
        errorMessage: 'RequestId: req-2 Error: Task timed out after 1.00 seconds',
      },
    });
    expect(call.endedAt - (call.readyAt ?? 0)).toBeGreaterThanOrEqual(1000);
  });

  it('kills a call whose resident memory passes the memory size: Runtime.OutOfMemory', async () => {
    const call = await callInSandbox(
      fn('hang', { limits: { memoryMb: 128, timeoutSeconds: 20 } }),
      {},
      {
        fault: { kind: 'exhaust-memory' },
      },
    );
    expect(call.outcome).toMatchObject({ ok: false, error: { errorType: 'Runtime.OutOfMemory' } });
    expect(call.peakRssBytes).toBeGreaterThan(128 * 1024 * 1024);
  });

  it('reports a process that exits without answering: Runtime.ExitError with its status', async () => {
    const call = await callInSandbox(fn('hang'), {}, { fault: { kind: 'crash', afterMs: 50 }, requestId: 'req-3' });
    expect(call.outcome).toEqual({
      ok: false,
      error: {
        errorType: 'Runtime.ExitError',
        errorMessage: 'RequestId: req-3 Error: Runtime exited with error: exit status 1',
      },
    });
  });

  it('forwards a signal to every running child, and stops a call when its abort signal fires', async () => {
    const calls = [callInSandbox(fn('hang'), {}), callInSandbox(fn('hang'), {})];
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(signalSandboxes('SIGTERM')).toBe(2);
    const ended = await Promise.all(calls);
    expect(new Set(ended.map((call) => call.pid)).size).toBe(2);
    for (const call of ended) {
      expect(call.outcome).toMatchObject({
        ok: false,
        error: { errorMessage: expect.stringMatching(/signal: term$/) as unknown },
      });
    }
    const controller = new AbortController();
    const aborted = callInSandbox(fn('hang'), {}, { signal: controller.signal });
    setTimeout(() => controller.abort(), 500);
    expect((await aborted).outcome).toMatchObject({ ok: false, error: { errorType: 'Sandbox.Aborted' } });
  });
});
