/**
 * Writes a run's CI outputs (`--junit <file>`, `--markdown <file>`) so no
 * reader ever sees a half-written file and the two never disagree: both are
 * written to temporary files beside their destinations first, then renamed
 * into place; if a rename fails, the files already renamed are put back as
 * they were. Errors name the flag and the path, in plain words that
 * `report --out` shares (checkOutputPath, attemptWrite).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, rename, rm, stat, writeFile } from 'node:fs/promises';
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

/** Characters of a destination's name kept in its temporary's name, so the temporary fits in 255 bytes. */
const NAME_KEPT_IN_TEMPORARY = 200;

/**
 * Checks before a run that each output could be written (see
 * {@link checkOutputPath}) and that the two paths differ. Throws an
 * InvalidInputError naming the flag, so a typo is caught before the probe runs.
 */
export async function checkCiOutputPaths(paths: CiOutputPaths): Promise<void> {
  if (
    paths.junit !== undefined &&
    paths.markdown !== undefined &&
    path.resolve(paths.junit) === path.resolve(paths.markdown)
  ) {
    throw new InvalidInputError('--markdown', `must be a different file from --junit, both are "${paths.junit}"`);
  }
  for (const [flag, file] of entries(paths)) await checkOutputPath(flag, file);
}

/**
 * Checks that `file`, given by `flag`, could be written: its directory
 * exists and is a directory, the path is not a directory, and the file
 * system accepts its name. Throws an InvalidInputError naming the flag and
 * the path. A write can still fail later (a file system that creates no
 * files, a full disk): {@link attemptWrite} says so in the same words.
 */
export async function checkOutputPath(flag: string, file: string): Promise<void> {
  const directory = path.dirname(path.resolve(file));
  const parent = await stat(directory).catch(() => undefined);
  if (!parent) throw new InvalidInputError(flag, `cannot write "${file}": the directory "${directory}" does not exist`);
  if (!parent.isDirectory())
    throw new InvalidInputError(flag, `cannot write "${file}": "${directory}" is not a directory`);
  const existing = await stat(file).catch((error: NodeJS.ErrnoException) => error);
  if (existing instanceof Error) {
    if (existing.code !== 'ENOENT')
      throw new InvalidInputError(flag, `cannot write "${file}": ${await describeWriteError(file, existing)}`);
  } else if (existing.isDirectory()) {
    throw new InvalidInputError(flag, `cannot write "${file}": it is a directory`);
  }
}

/**
 * Writes the JUnit XML and Markdown summary of `run` to the paths given
 * (checked before the run with {@link checkCiOutputPaths}): either every
 * file is replaced whole, or none is changed. Both texts go to temporary
 * files first; the existing destination files are copied aside; then each
 * temporary is renamed into place, and if one rename fails the files already
 * renamed are restored (or removed, when there was none before). Failures
 * throw an InvalidInputError naming the flag and path. Returns the files
 * written, in flag order.
 */
export async function writeCiOutputs(run: RunResult, paths: CiOutputPaths): Promise<string[]> {
  const outputs: PendingOutput[] = entries(paths).map(([flag, file]) => ({
    flag,
    file,
    text: flag === '--junit' ? junitReport(run) : markdownSummary(run),
  }));
  const scratch: string[] = [];
  try {
    const temporaries: string[] = [];
    for (const output of outputs) {
      const temporary = scratchPath(output.file, 'tmp');
      scratch.push(temporary);
      temporaries.push(temporary);
      await attemptWrite(output.flag, output.file, () =>
        writeFile(temporary, output.text, { encoding: 'utf8', flag: 'wx' }),
      );
    }
    const backups = new Map<string, string>();
    for (const output of outputs) {
      if (!(await stat(output.file).catch(() => undefined))?.isFile()) continue;
      const backup = scratchPath(output.file, 'bak');
      scratch.push(backup);
      await attemptWrite(output.flag, output.file, () => copyFile(output.file, backup, constants.COPYFILE_EXCL));
      backups.set(output.file, backup);
    }
    const renamed: PendingOutput[] = [];
    for (const [index, output] of outputs.entries()) {
      try {
        await attemptWrite(output.flag, output.file, () => rename(temporaries[index] as string, output.file));
      } catch (error) {
        await restore(renamed, backups);
        throw error;
      }
      renamed.push(output);
    }
  } finally {
    // A scratch file that was renamed or never created is already gone; removing it must not hide the real error.
    await Promise.all(scratch.map((file) => rm(file, { force: true }).catch(() => undefined)));
  }
  return outputs.map((output) => output.file);
}

/** Puts back what was in place before `renamed` were written: the copy set aside, or no file. */
async function restore(renamed: readonly PendingOutput[], backups: ReadonlyMap<string, string>): Promise<void> {
  for (const output of renamed) {
    const backup = backups.get(output.file);
    await (backup === undefined ? rm(output.file, { force: true }) : rename(backup, output.file)).catch(
      () => undefined,
    );
  }
}

function entries(paths: CiOutputPaths): Array<[PendingOutput['flag'], string]> {
  const found: Array<[PendingOutput['flag'], string]> = [];
  if (paths.junit !== undefined) found.push(['--junit', paths.junit]);
  if (paths.markdown !== undefined) found.push(['--markdown', paths.markdown]);
  return found;
}

/**
 * A fresh hidden file beside `file` (same file system, so a rename is atomic), its name short enough for any valid
 * `file`.
 */
function scratchPath(file: string, suffix: 'tmp' | 'bak'): string {
  const name = path.basename(file).slice(0, NAME_KEPT_IN_TEMPORARY);
  return path.join(path.dirname(file), `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.${suffix}`);
}

/**
 * Runs `write`, which writes `file` given by `flag`; a failure throws an
 * InvalidInputError naming the flag and the path, with the file-system error
 * in plain words (e.g. `--out: cannot write "/proc/x.html": the directory
 * "/proc" does not let files be created in it (ENOENT)`).
 */
export async function attemptWrite(flag: string, file: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (error) {
    throw new InvalidInputError(
      flag,
      `cannot write "${file}": ${await describeWriteError(file, error as NodeJS.ErrnoException)}`,
    );
  }
}

/**
 * A file-system error writing `file` in plain words; ENOENT says whether the directory is missing or refuses new files.
 */
async function describeWriteError(file: string, error: NodeJS.ErrnoException): Promise<string> {
  const code = error.code ?? '';
  if (code === 'ENOENT') {
    const directory = path.dirname(path.resolve(file));
    const parent = await stat(directory).catch(() => undefined);
    return parent?.isDirectory()
      ? `the directory "${directory}" does not let files be created in it (ENOENT)`
      : `the directory "${directory}" does not exist`;
  }
  return WRITE_ERRORS[code] ?? (code || String(error));
}

/** Plain words for the file-system errors a write can meet. */
const WRITE_ERRORS: Record<string, string> = {
  ENOTDIR: 'a part of its path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  ENAMETOOLONG: 'the file name is too long',
};
