import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../functions/engine/errors.js';
import {
  attemptWrite,
  checkCiOutputPaths,
  checkOutputPath,
  writeCiOutputs,
} from '../../functions/report/ci-outputs.js';
import { junitReport } from '../../functions/report/junit-report.js';
import { markdownSummary } from '../../functions/report/markdown-summary.js';
import { loadRecordedRun } from '../fixtures/simulator-runs.js';

const run = loadRecordedRun('concurrency-cap');
const directories: string[] = [];

afterEach(async () => {
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-ci-'));
  directories.push(directory);
  return directory;
}

/** The error `promise` rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<InvalidInputError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(InvalidInputError);
  return error as InvalidInputError;
}

/** A file name near the file system's limit of 255 bytes: fine itself, too long with a temporary suffix added. */
const LONG_NAME = `${'m'.repeat(247)}.md`;

/** A directory that exists but in which no file can be created (procfs). */
const NO_FILES_HERE = '/proc';

describe('writeCiOutputs', () => {
  it('writes the JUnit XML and the Markdown summary of the run and leaves no temporary file', async () => {
    const directory = await tempDir();
    const junit = path.join(directory, 'ws-ceiling.xml');
    const markdown = path.join(directory, 'summary.md');
    expect(await writeCiOutputs(run, { junit, markdown })).toEqual([junit, markdown]);
    expect(await readFile(junit, 'utf8')).toBe(junitReport(run));
    expect(await readFile(markdown, 'utf8')).toBe(markdownSummary(run));
    expect((await readdir(directory)).sort()).toEqual(['summary.md', 'ws-ceiling.xml']);
  });

  it('writes only the outputs asked for, replacing an existing file whole', async () => {
    const directory = await tempDir();
    const markdown = path.join(directory, 'summary.md');
    await writeFile(markdown, 'old summary that is longer than nothing '.repeat(200));
    expect(await writeCiOutputs(run, { markdown })).toEqual([markdown]);
    expect(await readFile(markdown, 'utf8')).toBe(markdownSummary(run));
    expect(await readdir(directory)).toEqual(['summary.md']);
  });

  it('writes a file whose name is near the longest the file system allows', async () => {
    const directory = await tempDir();
    const markdown = path.join(directory, LONG_NAME);
    expect(await writeCiOutputs(run, { markdown })).toEqual([markdown]);
    expect(await readFile(markdown, 'utf8')).toBe(markdownSummary(run));
    expect(await readdir(directory)).toEqual([LONG_NAME]);
  });

  it('names the flag and the missing directory, and writes nothing', async () => {
    const directory = await tempDir();
    const junit = path.join(directory, 'ws-ceiling.xml');
    const markdown = path.join(directory, 'missing', 'summary.md');
    const error = await rejection(writeCiOutputs(run, { junit, markdown }));
    expect(error.field).toBe('--markdown');
    expect(error.message).toBe(
      `--markdown: cannot write "${markdown}": the directory "${path.dirname(markdown)}" does not exist`,
    );
    expect(await readdir(directory)).toEqual([]);
  });

  it('changes no file when the second output cannot be written after the first was', async () => {
    const directory = await tempDir();
    const junit = path.join(directory, 'ws-ceiling.xml');
    await writeFile(junit, 'previous report');
    const markdown = path.join(NO_FILES_HERE, 'summary.md');
    const error = await rejection(writeCiOutputs(run, { junit, markdown }));
    expect(error.message).toBe(
      `--markdown: cannot write "${markdown}": the directory "${NO_FILES_HERE}" does not let files be created in ` +
        'it (ENOENT)',
    );
    expect(await readFile(junit, 'utf8')).toBe('previous report');
    expect(await readdir(directory)).toEqual(['ws-ceiling.xml']);
  });

  it('puts the first file back when the second cannot be renamed into place after the first was', async () => {
    const directory = await tempDir();
    const junit = path.join(directory, 'ws-ceiling.xml');
    await writeFile(junit, 'previous report');
    // A directory where the summary should go: its temporary is written, but the rename onto it fails.
    const markdown = path.join(directory, 'summary.md');
    await mkdir(markdown);
    await writeFile(path.join(markdown, 'keep'), '');
    const error = await rejection(writeCiOutputs(run, { junit, markdown }));
    expect(error.field).toBe('--markdown');
    expect(await readFile(junit, 'utf8')).toBe('previous report');
    expect((await readdir(directory)).sort()).toEqual(['summary.md', 'ws-ceiling.xml']);
  });

  it('removes a first file that did not exist before when the second cannot be renamed into place', async () => {
    const directory = await tempDir();
    const junit = path.join(directory, 'ws-ceiling.xml');
    const markdown = path.join(directory, 'summary.md');
    await mkdir(markdown);
    await writeFile(path.join(markdown, 'keep'), '');
    await rejection(writeCiOutputs(run, { junit, markdown }));
    expect(await readdir(directory)).toEqual(['summary.md']);
  });
});

describe('attemptWrite', () => {
  it('tells a directory that refuses new files from one that does not exist', async () => {
    const refused = await rejection(attemptWrite('--out', '/proc/x.html', () => writeFile('/proc/x.html', 'x')));
    expect(refused.message).toBe(
      '--out: cannot write "/proc/x.html": the directory "/proc" does not let files be created in it (ENOENT)',
    );
    const directory = await tempDir();
    const missing = path.join(directory, 'gone', 'x.html');
    const absent = await rejection(attemptWrite('--out', missing, () => writeFile(missing, 'x')));
    expect(absent.message).toBe(
      `--out: cannot write "${missing}": the directory "${path.dirname(missing)}" does not exist`,
    );
  });
});

describe('checkOutputPath', () => {
  it('refuses a name the file system cannot hold, and a directory path that is a file', async () => {
    const directory = await tempDir();
    const tooLong = path.join(directory, `${'x'.repeat(300)}.xml`);
    expect((await rejection(checkOutputPath('--junit', tooLong))).message).toBe(
      `--junit: cannot write "${tooLong}": the file name is too long`,
    );
    await writeFile(path.join(directory, 'file'), '');
    const underFile = path.join(directory, 'file', 'x.xml');
    expect((await rejection(checkOutputPath('--out', underFile))).message).toBe(
      `--out: cannot write "${underFile}": "${path.join(directory, 'file')}" is not a directory`,
    );
  });
});

describe('checkCiOutputPaths', () => {
  it('accepts paths in existing directories and no paths at all', async () => {
    const directory = await tempDir();
    await expect(
      checkCiOutputPaths({ junit: path.join(directory, 'a.xml'), markdown: path.join(directory, 'a.md') }),
    ).resolves.toBeUndefined();
    await expect(checkCiOutputPaths({})).resolves.toBeUndefined();
  });

  it('refuses a path that is a directory, naming the flag', async () => {
    const directory = await tempDir();
    await mkdir(path.join(directory, 'out.xml'));
    const error = await rejection(checkCiOutputPaths({ junit: path.join(directory, 'out.xml') }));
    expect(error.message).toBe(`--junit: cannot write "${path.join(directory, 'out.xml')}": it is a directory`);
  });

  it('refuses the same file for both outputs', async () => {
    const error = await rejection(checkCiOutputPaths({ junit: 'report.out', markdown: './report.out' }));
    expect(error.message).toBe('--markdown: must be a different file from --junit, both are "report.out"');
  });
});
