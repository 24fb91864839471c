/**
 * A sandboxed call and its parent exchange messages while it runs: the
 * function posts to the parent through its context, the parent posts to the
 * function (kept until it listens), and a signal reaches one child alone.
 * Runs the compiled child entry (npm run build).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInSandbox, type SandboxFunction } from '../../functions/lambda-sandbox/sandbox.js';

let folder: string;
let modulePath: string;

/** Posts `waiting`, echoes every message back until `done`, then returns what it heard; SIGTERM ends it too. */
const MODULE = `
export function echo(event, context) {
  return new Promise((resolve) => {
    const heard = [];
    process.once('SIGTERM', () => resolve({ heard, by: 'SIGTERM' }));
    setTimeout(() => {
      context.onParentMessage((data) => {
        if (data === 'done') resolve({ heard, by: 'done' });
        else {
          heard.push(data);
          context.postToParent({ echo: data });
        }
      });
    }, 200);
    context.postToParent({ waiting: event.name });
  });
}
`;

function fn(): SandboxFunction {
  return {
    name: 'test-echo',
    modulePath,
    exportName: 'echo',
    limits: { memoryMb: 128, timeoutSeconds: 20 },
    environment: {},
  };
}

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-channel-'));
  modulePath = path.join(folder, 'module.mjs');
  await writeFile(modulePath, MODULE);
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('startInSandbox', () => {
  it('carries messages both ways while the call runs, in order, keeping those sent before it listens', async () => {
    const posted: unknown[] = [];
    let sandbox: ReturnType<typeof startInSandbox> | undefined;
    const waiting = new Promise<void>((resolve) => {
      sandbox = startInSandbox(
        fn(),
        { name: 'one' },
        {
          onMessage: (data) => {
            posted.push(data);
            if ((data as { waiting?: string }).waiting) resolve();
            if ((data as { echo?: unknown }).echo === 'second') sandbox?.post('done');
          },
        },
      );
    });
    await waiting;
    // The function listens only 200 ms later: both messages wait for it.
    expect(sandbox?.post('first')).toBe(true);
    expect(sandbox?.post('second')).toBe(true);
    const call = await sandbox?.ended;
    expect(call?.outcome).toEqual({ ok: true, value: { heard: ['first', 'second'], by: 'done' } });
    expect(posted).toEqual([{ waiting: 'one' }, { echo: 'first' }, { echo: 'second' }]);
    expect(sandbox?.post('late')).toBe(false);
  });

  it('sends a signal to one child alone', async () => {
    const ready: Promise<void>[] = [];
    const sandboxes = ['a', 'b'].map((name) => {
      let started: () => void = () => undefined;
      ready.push(new Promise((resolve) => (started = resolve)));
      return startInSandbox(fn(), { name }, { onMessage: () => started() });
    });
    await Promise.all(ready);
    const [a, b] = sandboxes;
    expect(a?.kill('SIGTERM')).toBe(true);
    expect((await a?.ended)?.outcome).toEqual({ ok: true, value: { heard: [], by: 'SIGTERM' } });
    expect(a?.kill('SIGTERM')).toBe(false);
    b?.post('done');
    expect((await b?.ended)?.outcome).toEqual({ ok: true, value: { heard: [], by: 'done' } });
  });
});
