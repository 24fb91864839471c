/**
 * What every command of the CLI is given: where it writes. Results go to
 * stdout; plans, progress and notes to stderr, so `--json` output can be
 * piped.
 */

/** Where the command writes: results to `stdout`, plan and progress to `stderr`. */
export interface CommandIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}
