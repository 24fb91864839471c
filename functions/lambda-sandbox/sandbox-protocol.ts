/**
 * The messages between a sandbox's parent and its child process (over Node's
 * IPC channel, as JSON), and the shape of a Lambda error. One definition for
 * both sides: sandbox.ts starts the child with a `ChildInit`, sends `invoke` and reads the answers that
 * sandbox-child.ts sends back. While a call runs, the two sides may also
 * exchange messages of their own (`deliver` and `post`), which a Lambda
 * handler never uses and a probe process coordinates its run with.
 */

/** An error as Lambda reports a failed invocation (the document Step Functions puts in a `Cause`). */
export interface LambdaErrorDocument {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

/** What a child loads before anything runs (its one argument, as JSON, so it is there before IPC is). */
export interface ChildInit {
  /** `file:` URL of the ES module to import (a handler bundle, or any module). */
  moduleUrl: string;
  /** Its export to call: `(event, context) => result`. */
  exportName: string;
  /** Milliseconds added to `Date.now()` in the child (0 for none). */
  clockOffsetMs: number;
}

/** The Lambda context an invocation sees, without its methods (the child adds them). */
export interface InvocationContext {
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  /** Epoch milliseconds (real clock) when the invocation times out. */
  deadlineMs: number;
}

/** A fault the child plays on purpose, to rehearse a failure. */
export type ChildFault =
  /** The process exits with status 1 this long after the call starts. */
  | { kind: 'crash'; afterMs: number }
  /** The process keeps allocating memory outside the V8 heap until it is killed. */
  | { kind: 'exhaust-memory' };

/** One invocation: the event, the context and, rarely, a fault to play. */
export interface InvokeMessage {
  kind: 'invoke';
  event: unknown;
  context: InvocationContext;
  fault?: ChildFault;
}

/** A message from the parent to the function while its call runs. */
export interface DeliverMessage {
  kind: 'deliver';
  data: unknown;
}

/** What the parent sends. */
export type ParentMessage = InvokeMessage | DeliverMessage;

/** What the child answers; `post` is a message from the function while its call runs. */
export type ChildMessage =
  | { kind: 'ready'; initMs: number }
  | { kind: 'init-failed'; error: LambdaErrorDocument }
  | { kind: 'post'; data: unknown }
  | { kind: 'result'; value: unknown }
  | { kind: 'failed'; error: LambdaErrorDocument };

/**
 * What the context of a sandboxed call has beyond Lambda's: messages to and
 * from the parent while the call runs (JSON values). A message the parent
 * sends before the function listens is kept until it does.
 */
export interface SandboxChannel {
  /** Sends `data` to the parent (the sandbox's `onMessage`); nothing happens once the parent is gone. */
  postToParent(data: unknown): void;
  /** Calls `listener` with each message the parent sends (the sandbox's `post`); returns what stops listening. */
  onParentMessage(listener: (data: unknown) => void): () => void;
}
