/**
 * The child side of a sandbox (see sandbox.ts): one process, one invocation,
 * like a cold Lambda execution environment. It imports the module its
 * argument names (the cold start) and says `ready`; then runs the export once on the
 * `invoke` event with a Lambda-like context and sends back its result or its
 * error as Lambda documents one. It exits when the answer is sent, or as soon
 * as its parent goes away, so a child never outlives the process that started it.
 * While the call runs, the context also carries the channel of messages to
 * and from the parent (SandboxChannel).
 */
import type {
  ChildFault,
  ChildInit,
  ChildMessage,
  InvocationContext,
  LambdaErrorDocument,
  ParentMessage,
  SandboxChannel,
} from './sandbox-protocol.js';

type Invocable = (event: unknown, context: unknown) => unknown;

/** The real clock, kept before any offset is applied, for the deadline. */
const realNow = Date.now.bind(Date);
/** Memory kept by the exhaust-memory fault, so it is never collected. */
const hoard: Buffer[] = [];
let target: Invocable | undefined;
/** The function's listeners for the parent's messages, and the messages that came before any listened. */
const parentListeners = new Set<(data: unknown) => void>();
const undelivered: unknown[] = [];

process.on('disconnect', () => process.exit(0));
process.on('message', (message: ParentMessage) => {
  if (message.kind === 'deliver') deliver(message.data);
  else void invoke(message.event, message.context, message.fault);
});
// An error the handler let escape ends the process, as it ends a Lambda runtime.
process.on('uncaughtException', (error) => void answerAndExit({ kind: 'failed', error: lambdaError(error) }));
process.on(
  'unhandledRejection',
  (reason) =>
    void answerAndExit({
      kind: 'failed',
      error: { ...lambdaError(reason), errorType: 'Runtime.UnhandledPromiseRejection' },
    }),
);

const init = JSON.parse(process.argv[2] ?? '{}') as ChildInit;
void initialize(init);

async function initialize({ moduleUrl, exportName, clockOffsetMs }: ChildInit): Promise<void> {
  if (clockOffsetMs !== 0) Date.now = () => realNow() + clockOffsetMs;
  const started = performance.now();
  try {
    const loaded = (await import(moduleUrl)) as Record<string, unknown>;
    const candidate = loaded[exportName];
    if (typeof candidate !== 'function') {
      await answerAndExit({
        kind: 'init-failed',
        error: {
          errorType: 'Runtime.HandlerNotFound',
          errorMessage: `${moduleUrl} does not export a function named ${exportName}`,
        },
      });
      return;
    }
    target = candidate as Invocable;
    send({ kind: 'ready', initMs: performance.now() - started });
  } catch (error) {
    await answerAndExit({
      kind: 'init-failed',
      error: { ...lambdaError(error), errorType: 'Runtime.ImportModuleError' },
    });
  }
}

async function invoke(event: unknown, context: InvocationContext, fault: ChildFault | undefined): Promise<void> {
  if (!target) return;
  if (fault) playFault(fault);
  const { deadlineMs, ...fields } = context;
  const channel: SandboxChannel = {
    postToParent: (data) => {
      if (process.connected) send({ kind: 'post', data });
    },
    onParentMessage: (listener) => {
      parentListeners.add(listener);
      for (const data of undelivered.splice(0)) listener(data);
      return () => parentListeners.delete(listener);
    },
  };
  const lambdaContext = {
    ...fields,
    ...channel,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - realNow()),
  };
  try {
    const value = await target(event, lambdaContext);
    await answerAndExit({ kind: 'result', value: value === undefined ? null : value });
  } catch (error) {
    await answerAndExit({ kind: 'failed', error: lambdaError(error) });
  }
}

/** Hands a message of the parent to the function's listeners, or keeps it until one listens. */
function deliver(data: unknown): void {
  if (parentListeners.size === 0) undelivered.push(data);
  for (const listener of parentListeners) listener(data);
}

function playFault(fault: ChildFault): void {
  if (fault.kind === 'crash') {
    setTimeout(() => process.exit(1), fault.afterMs);
    return;
  }
  // Outside the V8 heap, so only the parent's resident-memory watch can stop it, as Lambda's memory limit does.
  const grow = (): void => {
    hoard.push(Buffer.alloc(16 * 1024 * 1024, 1));
    setTimeout(grow, 5);
  };
  grow();
}

/** A thrown value as Lambda's Node.js runtime reports it. */
function lambdaError(error: unknown): LambdaErrorDocument {
  if (error instanceof Error) {
    return {
      errorType: error.name || 'Error',
      errorMessage: error.message,
      trace: (error.stack ?? '').split('\n').filter((line) => line.length > 0),
    };
  }
  return { errorType: typeof error, errorMessage: String(error) };
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

/** Sends the answer, then ends the process once it is on its way (one invocation per process). */
function answerAndExit(message: ChildMessage): Promise<void> {
  return new Promise(() => {
    if (!process.send || !process.connected) process.exit(0);
    process.send(message, () => process.exit(0));
  });
}
