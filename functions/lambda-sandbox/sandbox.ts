/**
 * Runs one function call in a child process with a Lambda function's limits:
 * the local stand-in for one Lambda invocation (`ws-ceiling rehearse` runs
 * every Task of a state machine this way; a run spread over several probe
 * processes can run its shards this way too). Each call gets a fresh process
 * (a cold start) that:
 * - has the descriptor limit Lambda gives (`ulimit -n 1024`, hard and soft);
 * - has a V8 heap limit under the function's memory size, and is killed when
 *   its resident memory passes that size (`Runtime.OutOfMemory`);
 * - is killed at its timeout (`Sandbox.Timedout`, as Lambda reports it);
 * - sees only the environment it is given (no credentials of the caller);
 * - gets the event over IPC and answers with the result or Lambda's error
 *   document (`errorType`, `errorMessage`, `trace`); a process that dies
 *   without answering is `Runtime.ExitError`.
 * Children run in their own process group, so a terminal's Ctrl-C reaches
 * only the parent, which decides (signalSandboxes forwards a signal to every
 * child); a child exits when its parent goes away, and the parent kills the
 * children still running when it exits. `startInSandbox` also gives a handle
 * on the running call: its pid, a signal for its process alone, and messages
 * both ways while it runs (the function's context carries its side, see
 * SandboxChannel), which the probe processes of one run coordinate with.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type {
  ChildFault,
  ChildInit,
  ChildMessage,
  DeliverMessage,
  InvokeMessage,
  LambdaErrorDocument,
} from './sandbox-protocol.js';

/** The descriptor limit of a Lambda execution environment (soft and hard). */
export const LAMBDA_DESCRIPTOR_LIMIT = 1024;

/** Share of the memory size given to the V8 heap; the rest is for code, buffers and sockets. */
const HEAP_SHARE = 0.9;

/** How often the resident memory of a running child is read. */
const RSS_POLL_MS = 100;

/** The limits of one function, as its template sets them. */
export interface SandboxLimits {
  /** Memory size, MB: the heap limit is 90 % of it, and resident memory above it kills the process. */
  memoryMb: number;
  /** Seconds the call may take once the module is loaded. */
  timeoutSeconds: number;
  /** Descriptor limit of the process (default: Lambda's 1024). */
  descriptors?: number;
}

/** What to run and under which limits. */
export interface SandboxFunction {
  /** Function name, for the context and the messages. */
  name: string;
  /** ARN the context reports as invoked; a local one when not given. */
  arn?: string;
  /** Absolute path of the ES module to load (a handler bundle, or any module). */
  modulePath: string;
  /** The export to call as `(event, context)`. */
  exportName: string;
  limits: SandboxLimits;
  /** The child's whole environment: nothing of the parent's is passed on but PATH. */
  environment: Readonly<Record<string, string>>;
}

/** How one call runs. */
export interface SandboxCallOptions {
  /** Request id of the call (a fresh UUID when not given). */
  requestId?: string;
  /** Milliseconds added to `Date.now()` in the child. */
  clockOffsetMs?: number;
  /** A failure to play on purpose. */
  fault?: ChildFault;
  /** Kills the child when aborted; the call then fails with `Sandbox.Aborted`. */
  signal?: AbortSignal;
  /** Each line the child writes to stdout or stderr (its logs). */
  onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Each message the function posts while its call runs (SandboxChannel.postToParent), in order. */
  onMessage?: (data: unknown) => void;
}

/** How a call went. */
export interface SandboxCall {
  /** Process id of the child that ran it. */
  pid: number;
  /** Epoch milliseconds: the process was started, its module was loaded (null if never), the call ended. */
  spawnedAt: number;
  readyAt: number | null;
  endedAt: number;
  /** Milliseconds from spawning the process to its module being loaded, null when loading failed. */
  coldStartMs: number | null;
  /** Highest resident memory seen, bytes (null if never read). */
  peakRssBytes: number | null;
  outcome: { ok: true; value: unknown } | { ok: false; error: LambdaErrorDocument };
}

/** The child processes running now. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Sends `signal` to every child running now; returns how many got it. */
export function signalSandboxes(signal: NodeJS.Signals): number {
  for (const child of running) child.kill(signal);
  return running.size;
}

/** A call running in its child process. */
export interface RunningSandbox {
  /** Process id of the child. */
  pid: number;
  /** Sends `data` to the function (SandboxChannel.onParentMessage); false once the child is gone. */
  post(data: unknown): boolean;
  /** Sends `signal` to this child alone; false once it is gone. */
  kill(signal: NodeJS.Signals): boolean;
  /** How the call went, once it has ended; never rejects for a failure of the call itself. */
  ended: Promise<SandboxCall>;
}

/**
 * Runs `fn` once on `event` in a new child process under its limits and
 * resolves with how it went; never rejects for a failure of the call itself.
 */
export function callInSandbox(
  fn: SandboxFunction,
  event: unknown,
  options: SandboxCallOptions = {},
): Promise<SandboxCall> {
  return startInSandbox(fn, event, options).ended;
}

/** Starts `fn` once on `event` in a new child process under its limits, and returns the running call. */
export function startInSandbox(fn: SandboxFunction, event: unknown, options: SandboxCallOptions = {}): RunningSandbox {
  installExitHook();
  const requestId = options.requestId ?? randomUUID();
  const descriptors = fn.limits.descriptors ?? LAMBDA_DESCRIPTOR_LIMIT;
  const heapMb = Math.max(16, Math.floor(fn.limits.memoryMb * HEAP_SHARE));
  const spawnedAt = Date.now();
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      `ulimit -n ${descriptors} && exec "$0" "$@"`,
      process.execPath,
      `--max-old-space-size=${heapMb}`,
      childEntryPath(),
      JSON.stringify({
        moduleUrl: pathToFileURL(fn.modulePath).href,
        exportName: fn.exportName,
        clockOffsetMs: options.clockOffsetMs ?? 0,
      } satisfies ChildInit),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...fn.environment },
      detached: true,
    },
  );
  running.add(child);
  const pid = child.pid ?? -1;
  let over = false;
  const alive = () => !over && child.exitCode === null && child.signalCode === null;
  const ended = finishedCall(child, fn, event, options, { requestId, pid, spawnedAt }).then((call) => {
    over = true;
    return call;
  });
  return {
    pid,
    post: (data) => {
      if (!alive() || !child.connected) return false;
      // A child that goes away meanwhile fails the send in the callback, not as an error of the call.
      child.send({ kind: 'deliver', data } satisfies DeliverMessage, () => undefined);
      return true;
    },
    kill: (signal) => alive() && child.kill(signal),
    ended,
  };
}

/** Watches a started child through its call: answers, limits, exit; resolves with how the call went. */
async function finishedCall(
  child: ChildProcess,
  fn: SandboxFunction,
  event: unknown,
  options: SandboxCallOptions,
  { requestId, pid, spawnedAt }: { requestId: string; pid: number; spawnedAt: number },
): Promise<SandboxCall> {
  forwardLines(child, options.onOutput);
  const watch = watchMemory(pid, fn.limits.memoryMb);
  let readyAt: number | null = null;
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderrTail = (stderrTail + chunk.toString()).slice(-2000)));

  const outcome = await new Promise<SandboxCall['outcome']>((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let killedFor: 'timeout' | 'memory' | 'abort' | undefined;
    const finish = (result: SandboxCall['outcome']): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const kill = (reason: 'timeout' | 'memory' | 'abort'): void => {
      killedFor ??= reason;
      child.kill('SIGKILL');
    };
    const onAbort = (): void => kill('abort');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) kill('abort');
    watch.onExceeded = () => kill('memory');
    // Loading counts against the timeout too, so a module that never loads cannot hold the run.
    timer = setTimeout(() => kill('timeout'), fn.limits.timeoutSeconds * 1000);

    child.on('message', (message: ChildMessage) => {
      if (message.kind === 'ready') {
        readyAt = Date.now();
        clearTimeout(timer);
        const deadlineMs = readyAt + fn.limits.timeoutSeconds * 1000;
        timer = setTimeout(() => kill('timeout'), deadlineMs - Date.now());
        const invoke: InvokeMessage = {
          kind: 'invoke',
          event,
          context: {
            functionName: fn.name,
            functionVersion: '$LATEST',
            invokedFunctionArn: fn.arn ?? `arn:aws:lambda:local:000000000000:function:${fn.name}`,
            memoryLimitInMB: String(fn.limits.memoryMb),
            awsRequestId: requestId,
            logGroupName: `/aws/lambda/${fn.name}`,
            logStreamName: `local/${requestId}`,
            deadlineMs,
          },
          ...(options.fault ? { fault: options.fault } : {}),
        };
        child.send(invoke);
      } else if (message.kind === 'post') options.onMessage?.(message.data);
      else if (message.kind === 'result') finish({ ok: true, value: message.value });
      else finish({ ok: false, error: message.error });
    });
    child.on('error', (error) =>
      finish({
        ok: false,
        error: { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${requestId} ${error}` },
      }),
    );
    child.on('exit', (code, signal) => {
      const timeoutText = `${fn.limits.timeoutSeconds.toFixed(2)} seconds`;
      const exit = signal ? `signal: ${signalName(signal)}` : `exit status ${code ?? 0}`;
      if (killedFor === 'timeout')
        finish(failure('Sandbox.Timedout', `RequestId: ${requestId} Error: Task timed out after ${timeoutText}`));
      else if (killedFor === 'memory' || /heap limit|heap out of memory/i.test(stderrTail))
        finish(failure('Runtime.OutOfMemory', `RequestId: ${requestId} Error: Runtime exited with error: ${exit}`));
      else if (killedFor === 'abort')
        finish(failure('Sandbox.Aborted', `RequestId: ${requestId} Error: the invocation was stopped`));
      else finish(failure('Runtime.ExitError', `RequestId: ${requestId} Error: Runtime exited with error: ${exit}`));
    });
  });
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  running.delete(child);
  watch.stop();
  return {
    pid,
    spawnedAt,
    readyAt,
    endedAt: Date.now(),
    coldStartMs: readyAt === null ? null : readyAt - spawnedAt,
    peakRssBytes: watch.peakBytes(),
    outcome,
  };
}

function failure(errorType: string, errorMessage: string): SandboxCall['outcome'] {
  return { ok: false, error: { errorType, errorMessage } };
}

/** `killed` for SIGKILL, as Lambda words it, else the signal's name without SIG. */
function signalName(signal: NodeJS.Signals): string {
  return signal === 'SIGKILL' ? 'killed' : signal === 'SIGABRT' ? 'aborted' : signal.replace(/^SIG/, '').toLowerCase();
}

/** Passes each line the child prints to `onOutput`. */
function forwardLines(child: ChildProcess, onOutput: SandboxCallOptions['onOutput']): void {
  for (const stream of ['stdout', 'stderr'] as const) {
    const source = child[stream];
    if (!source) continue;
    if (!onOutput) {
      source.resume();
      continue;
    }
    createInterface({ input: source }).on('line', (line) => onOutput(line, stream));
  }
}

/** A watch of a process's resident memory that calls `onExceeded` once it passes `limitMb`. */
function watchMemory(pid: number, limitMb: number) {
  let peak: number | null = null;
  const watch = {
    onExceeded: (): void => undefined,
    peakBytes: () => peak,
    stop: () => clearInterval(timer),
  };
  const timer = setInterval(() => {
    void readRss(pid).then((bytes) => {
      if (bytes === null) return;
      peak = Math.max(peak ?? 0, bytes);
      if (bytes > limitMb * 1024 * 1024) watch.onExceeded();
    });
  }, RSS_POLL_MS);
  timer.unref();
  return watch;
}

/** VmRSS of a process in bytes, or null when it cannot be read (it ended, or no /proc). */
async function readRss(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Kills every child still running when this process exits. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => signalSandboxes('SIGKILL'));
}

/**
 * The compiled child entry: next to this module when it runs compiled
 * (dist/), or in dist/ when this module runs from its TypeScript source (tests).
 */
function childEntryPath(): string {
  const candidates = [
    new URL('./sandbox-child.js', import.meta.url),
    new URL('../../dist/functions/lambda-sandbox/sandbox-child.js', import.meta.url),
  ].map((url) => fileURLToPath(url));
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`the sandbox's child entry is not built (${candidates[1]}): run npm run build`);
  return found;
}
