/**
 * What every command of the CLI is given when it registers itself on the
 * program: where it writes, and how it reports its exit code. Results go to
 * stdout; plans, progress and notes to stderr, so `--json` output can be
 * piped.
 */

/** Where the command writes: results to `stdout`, plan and progress to `stderr`. */
export interface CommandIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** What a command's `register` function gets: its output streams, and where its action puts the exit code. */
export interface CliContext {
  io: CommandIo;
  /** Called by the command's action with the process exit code (bin/cli/exit-codes.ts). */
  setExitCode: (code: number) => void;
}
