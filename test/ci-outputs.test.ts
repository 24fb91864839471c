import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../functions/engine/errors.js';
import { checkCiOutputPaths, writeCiOutputs } from '../functions/report/ci-outputs.js';
import { junitReport } from '../functions/report/junit-report.js';
import { markdownSummary } from '../functions/report/markdown-summary.js';
import { recordedRun } from './support/report-fixtures.js';

const run = recordedRun('concurrency-cap');
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

/** A file name that fits the file system but leaves no room for the temporary name beside it. */
const LONGEST_NAME = `${'m'.repeat(240)}.md`;

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

  it('names the flag and path when the directory does not exist, and writes nothing', async () => {
    const directory = await tempDir();
    const junit = path.join(directory, 'ws-ceiling.xml');
    const markdown = path.join(directory, 'missing', 'summary.md');
    const error = await rejection(writeCiOutputs(run, { junit, markdown }));
    expect(error.field).toBe('--markdown');
    expect(error.message).toBe(`--markdown: cannot write "${markdown}": its directory does not exist`);
    expect(await readdir(directory)).toEqual([]);
  });

  it('changes no file when one output cannot be written after the other was', async () => {
    const directory = await tempDir();
    const junit = path.join(directory, 'ws-ceiling.xml');
    await writeFile(junit, 'previous report');
    const markdown = path.join(directory, LONGEST_NAME);
    const error = await rejection(writeCiOutputs(run, { junit, markdown }));
    expect(error.message).toBe(`--markdown: cannot write "${markdown}": the file name is too long`);
    expect(await readFile(junit, 'utf8')).toBe('previous report');
    expect(await readdir(directory)).toEqual(['ws-ceiling.xml']);
  });
});

describe('checkCiOutputPaths', () => {
  it('accepts paths in existing directories and no paths at all', async () => {
    const directory = await tempDir();
    await expect(checkCiOutputPaths({ junit: path.join(directory, 'a.xml'), markdown: path.join(directory, 'a.md') })).resolves.toBeUndefined();
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
