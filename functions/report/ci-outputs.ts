/**
 * Writes a run's CI outputs (`--junit <file>`, `--markdown <file>`) so no
 * reader ever sees a half-written file: each is written to a temporary file
 * beside its destination and renamed into place only once every output has
 * been written. Errors name the flag and the path, in plain words that
 * `report --out` shares (attemptWrite).
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidInputError } from '../engine/errors.js';
import type { RunResult } from '../engine/types.js';
import { junitReport } from './junit-report.js';
import { markdownSummary } from './markdown-summary.js';

/** Where to write each CI output; an absent path means that output is not wanted. */
export interface CiOutputPaths {
  junit?: string;
  markdown?: string;
}

/** One output to write: its flag, destination and text. */
interface PendingOutput {
  flag: '--junit' | '--markdown';
  file: string;
  text: string;
}

/**
 * Checks before a run that each output could be written: the paths differ,
 * the directory exists, and the path is not a directory. Throws an
 * InvalidInputError naming the flag, so a typo is caught before the probe runs.
 */
export async function checkCiOutputPaths(paths: CiOutputPaths): Promise<void> {
  if (paths.junit !== undefined && paths.markdown !== undefined && path.resolve(paths.junit) === path.resolve(paths.markdown)) {
    throw new InvalidInputError('--markdown', `must be a different file from --junit, both are "${paths.junit}"`);
  }
  for (const [flag, file] of entries(paths)) {
    const directory = path.dirname(path.resolve(file));
    const parent = await stat(directory).catch(() => undefined);
    if (!parent?.isDirectory()) throw new InvalidInputError(flag, `cannot write "${file}": the directory "${directory}" does not exist`);
    const existing = await stat(file).catch(() => undefined);
    if (existing?.isDirectory()) throw new InvalidInputError(flag, `cannot write "${file}": it is a directory`);
  }
}

/**
 * Writes the JUnit XML and Markdown summary of `run` to the paths given
 * (checked before the run with {@link checkCiOutputPaths}). Each file is
 * either written completely or left as it was; when any text cannot be
 * written, no file is changed. Failures throw an InvalidInputError naming
 * the flag and path. Returns the files written, in flag order.
 */
export async function writeCiOutputs(run: RunResult, paths: CiOutputPaths): Promise<string[]> {
  const outputs: PendingOutput[] = entries(paths).map(([flag, file]) => ({
    flag,
    file,
    text: flag === '--junit' ? junitReport(run) : markdownSummary(run),
  }));
  const temporaries: string[] = [];
  try {
    for (const output of outputs) {
      const temporary = temporaryPath(output.file);
      temporaries.push(temporary);
      await attemptWrite(output.flag, output.file, () => writeFile(temporary, output.text, { encoding: 'utf8', flag: 'wx' }));
    }
    for (const [index, output] of outputs.entries()) {
      await attemptWrite(output.flag, output.file, () => rename(temporaries[index] as string, output.file));
    }
  } finally {
    // A temporary that was renamed or never created is already gone; removing it must not hide the real error.
    await Promise.all(temporaries.map((temporary) => rm(temporary, { force: true }).catch(() => undefined)));
  }
  return outputs.map((output) => output.file);
}

function entries(paths: CiOutputPaths): Array<[PendingOutput['flag'], string]> {
  const found: Array<[PendingOutput['flag'], string]> = [];
  if (paths.junit !== undefined) found.push(['--junit', paths.junit]);
  if (paths.markdown !== undefined) found.push(['--markdown', paths.markdown]);
  return found;
}

/** A fresh hidden file beside `file`, so the rename stays on one file system. */
function temporaryPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Runs `write`, which writes `file` given by `flag`; a failure throws an
 * InvalidInputError naming the flag and the path, with the file-system error
 * in plain words (e.g. `--out: cannot write "x.html": its directory does not
 * exist`).
 */
export async function attemptWrite(flag: string, file: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    throw new InvalidInputError(flag, `cannot write "${file}": ${WRITE_ERRORS[code] ?? (code || String(error))}`);
  }
}

/** Plain words for the file-system errors a write can meet. */
const WRITE_ERRORS: Record<string, string> = {
  ENOENT: 'its directory does not exist',
  ENOTDIR: 'a part of its path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  ENAMETOOLONG: 'the file name is too long',
};
