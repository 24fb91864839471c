/**
 * Runs the built CLI (dist/bin/ws-ceiling.js) as a child process, as a user
 * would, and collects its exit code and output. `npm test` builds first.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Path of the built CLI entry; WS_CEILING_CLI points the tests at another build. */
const CLI = process.env.WS_CEILING_CLI ?? fileURLToPath(new URL('../../dist/bin/ws-ceiling.js', import.meta.url));

/** What a CLI run printed and how it exited. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Options of one CLI run. */
export interface CliOptions {
  /** Kill the process after this long (default 60 s): a bound on every test's traffic. */
  timeoutMs?: number;
  /** Run under `ulimit -n` with this descriptor limit. */
  descriptorLimit?: number;
  /** Variables added to the environment of the run. */
  environment?: Record<string, string>;
  /** Called with the child once started, e.g. to send it a signal. */
  onStart?: (child: ReturnType<typeof spawn>) => void;
}

/** Runs `ws-ceiling <args>` and resolves when it exits. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const env = { ...process.env, ...options.environment };
  const command = options.descriptorLimit
    ? spawn('bash', ['-c', `ulimit -n ${options.descriptorLimit} && exec "$0" "$@"`, process.execPath, CLI, ...args], {
        env,
      })
    : spawn(process.execPath, [CLI, ...args], { env });
  let stdout = '';
  let stderr = '';
  command.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  command.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  options.onStart?.(command);
  const killer = setTimeout(() => command.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return new Promise((resolve) => {
    command.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A fresh temporary store directory and its removal. */
export async function temporaryStore(): Promise<{ directory: string; remove: () => Promise<void> }> {
  const directory = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-test-'));
  return { directory, remove: () => rm(directory, { recursive: true, force: true }) };
}
