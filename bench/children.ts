/**
 * Starts the benchmark's child processes (node with --expose-gc; node raises
 * its own soft descriptor limit to the hard limit at startup), reads the one
 * JSON line each prints, and kills every child still running when asked:
 * at the end, on an error and on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** How long a stopped child gets to exit on SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5000;
/** How much of a failed child's stderr an error quotes. */
const STDERR_TAIL = 800;

/** One running child process. */
export interface BenchChild {
  /**
   * The first line the child prints on stdout, parsed as JSON; rejects when it exits first or after `timeoutMs` (and
   * then kills it).
   */
  firstJsonLine(timeoutMs: number): Promise<unknown>;
  /** Resolves with the exit code once the child has exited. */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after a grace; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Every child the benchmark started, so all can be killed at once. */
export class ChildProcesses {
  readonly #running = new Set<ChildProcess>();

  /** Starts `node --expose-gc <script> ...args`. */
  start(script: string, args: readonly string[]): BenchChild {
    const child = spawn(process.execPath, ['--expose-gc', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.once('close', (code) => {
        this.#running.delete(child);
        resolve(code);
      }),
    );
    const describeFailure = (what: string) =>
      `${script.split('/').pop()} ${what}${stderr ? `: ${stderr.slice(-STDERR_TAIL).trim()}` : ''}`;

    return {
      exited,
      firstJsonLine: (timeoutMs) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(
              new Error(describeFailure(`printed no result within ${Math.round(timeoutMs / 1000)} s and was killed`)),
            );
          }, timeoutMs);
          const onData = () => {
            const newline = stdout.indexOf('\n');
            if (newline < 0) return;
            clearTimeout(timer);
            child.stdout?.off('data', onData);
            try {
              resolve(JSON.parse(stdout.slice(0, newline)));
            } catch {
              reject(new Error(describeFailure(`printed something other than a JSON result: ${stdout.slice(0, 200)}`)));
            }
          };
          child.stdout?.on('data', onData);
          onData();
          void exited.then((code) => {
            clearTimeout(timer);
            if (!stdout.includes('\n'))
              reject(new Error(describeFailure(`exited with code ${code} before printing a result`)));
          });
        }),
      stop: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(killer);
      },
    };
  }

  /** Kills every child still running, at once (safe to call from an exit handler). */
  killAll(): void {
    for (const child of this.#running) child.kill('SIGKILL');
    this.#running.clear();
  }
}
