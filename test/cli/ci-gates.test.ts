// `ws-ceiling run --junit --markdown` (and diagnose) through the built CLI, as a pipeline
// runs it: the files and the `Wrote` lines, unchanged exit codes, a bad path
// refused before the probe, a file that fails only at write time after the
// result is printed and stored, and no secret in either file. The JUnit XML
// is checked by Chromium's XML parser (DOMParser), not by a parser of ours.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../functions/engine/types.js';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';
import { CHROMIUM_INSTALL_TIMEOUT_MS, ensureChromium } from '../support/chromium.js';
import { runCli, temporaryStore } from '../support/cli.js';

/** Planted in the URL's password, a query value and a header value: none may reach a file or the terminal. */
const SECRETS = ['pw-ci-sekrit-1', 'ci-sekrit-query-2', 'ci-sekrit-header-3'] as const;

/** The simulator's cap: the ceiling every run here finds. */
const CAP = 20;

let browser: Browser | undefined;
let simulator: RunningSimulator;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: await ensureChromium(), headless: true });
}, CHROMIUM_INSTALL_TIMEOUT_MS + 60_000);

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh simulator capped at CAP and a fresh directory for the store and the files. */
async function setUp(): Promise<{ url: string; directory: string }> {
  simulator = await startTargetSimulator({ cap: { limit: CAP, response: { kind: 'status', status: 503 } } });
  cleanups.push(() => simulator.stop());
  const work = await temporaryStore();
  cleanups.push(work.remove);
  const port = new URL(simulator.url).port;
  return { url: `ws://agent:${SECRETS[0]}@127.0.0.1:${port}/socket?token=${SECRETS[1]}`, directory: work.directory };
}

/** `ws-ceiling run <url>` with a small ramp over the cap, the planted header and `extra` flags. */
function run(url: string, store: string, extra: readonly string[]) {
  return runCli([
    'run',
    url,
    '--stages',
    '10,20,30',
    '--hold',
    '0.5',
    '--rate',
    '200',
    '--target-id',
    'ci-gate',
    '--header',
    `Authorization: Bearer ${SECRETS[2]}`,
    '--store',
    store,
    ...extra,
  ]);
}

/**
 * Browser-side source (the tests are compiled without the DOM's types) that
 * parses a JUnit text with DOMParser and returns its parse error, or the
 * root's and suite's attributes and each test case's outcome.
 */
const PARSE_JUNIT = `(text) => {
  const document = new DOMParser().parseFromString(text, 'application/xml');
  const error = document.querySelector('parsererror');
  if (error) return { error: error.textContent || 'parse error' };
  const attributes = (element) =>
    Object.fromEntries([...(element ? element.attributes : [])].map((attribute) => [attribute.name, attribute.value]));
  return {
    error: null,
    root: attributes(document.documentElement),
    suite: attributes(document.querySelector('testsuites > testsuite')),
    cases: [...document.querySelectorAll('testcase')].map((node) => ({
      name: node.getAttribute('name'),
      outcome: node.firstElementChild ? node.firstElementChild.tagName : 'passed',
    })),
  };
}`;

/** What Chromium's XML parser makes of a JUnit text. */
interface ParsedJunit {
  error: string | null;
  root?: Record<string, string>;
  suite?: Record<string, string>;
  cases?: Array<{ name: string | null; outcome: string }>;
}

/** Parses `xml` with Chromium's DOMParser. */
async function parseJunit(xml: string): Promise<ParsedJunit> {
  if (!browser) throw new Error('Chromium did not start');
  const page = await browser.newPage();
  try {
    return await page.evaluate<ParsedJunit>(`(${PARSE_JUNIT})(${JSON.stringify(xml)})`);
  } finally {
    await page.close();
  }
}

/** The runs stored in `store`, as `history --json` prints them. */
async function storedRuns(store: string): Promise<RunResult[]> {
  const history = await runCli(['history', '--json', '--store', store]);
  expect(history.code).toBe(0);
  return JSON.parse(history.stdout) as RunResult[];
}

describe('run --junit --markdown', () => {
  it('writes both files after the result, says so, exits 0 for a passing run and keeps every secret out', async () => {
    const { url, directory } = await setUp();
    const junit = path.join(directory, 'ws-ceiling.xml');
    const markdown = path.join(directory, 'ws-ceiling.md');
    const result = await run(url, path.join(directory, 'store'), [
      '--min-ceiling',
      String(CAP),
      '--junit',
      junit,
      '--markdown',
      markdown,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Ceiling:     ${CAP} concurrent connections`);
    expect(result.stderr).toContain(`Wrote ${junit}\nWrote ${markdown}\n`);
    const [xml, summary] = await Promise.all([readFile(junit, 'utf8'), readFile(markdown, 'utf8')]);
    const parsed = await parseJunit(xml);
    expect(parsed.error).toBeNull();
    expect(parsed.root).toMatchObject({ name: 'ws-ceiling', tests: '3', failures: '0', errors: '0' });
    expect(parsed.suite).toMatchObject({ tests: '3', failures: '0', errors: '0', skipped: '1' });
    expect(parsed.cases).toEqual([
      { name: 'probe completed', outcome: 'passed' },
      { name: 'ceiling at or above floor', outcome: 'passed' },
      { name: 'no regression against baseline', outcome: 'skipped' },
    ]);
    expect(summary.split('\n')[0]).toBe('### ws-ceiling PASS: `ci-gate` (ok)');
    expect(summary).toContain("--header 'Authorization: <value>'");
    for (const secret of SECRETS) {
      expect(xml).not.toContain(secret);
      expect(summary).not.toContain(secret);
      expect(`${result.stdout}${result.stderr}`).not.toContain(secret);
    }
  });

  it('still exits 1 for a run under its floor, with the floor gate failed in the JUnit file', async () => {
    const { url, directory } = await setUp();
    const junit = path.join(directory, 'ws-ceiling.xml');
    const markdown = path.join(directory, 'ws-ceiling.md');
    const result = await run(url, path.join(directory, 'store'), [
      '--min-ceiling',
      '30',
      '--junit',
      junit,
      '--markdown',
      markdown,
    ]);
    expect(result.code).toBe(1);
    const parsed = await parseJunit(await readFile(junit, 'utf8'));
    expect(parsed.error).toBeNull();
    expect(parsed.suite).toMatchObject({ tests: '3', failures: '1', errors: '0' });
    expect(parsed.cases).toContainEqual({ name: 'ceiling at or above floor', outcome: 'failure' });
    expect((await readFile(markdown, 'utf8')).split('\n')[0]).toBe('### ws-ceiling FAIL: `ci-gate` (below-floor)');
  });

  it('refuses a --junit file in a missing directory before sending anything', async () => {
    const { url, directory } = await setUp();
    const result = await run(url, path.join(directory, 'store'), ['--junit', '/nonexistent/ws-ceiling.xml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'error: --junit: cannot write "/nonexistent/ws-ceiling.xml": the directory "/nonexistent" does not exist\n',
    );
    expect(result.stdout).toBe('');
    expect(simulator.stats().accepted).toBe(0);
  });

  it('prints and stores the result when a file fails only at write time, then exits 2 naming the file', async () => {
    const { url, directory } = await setUp();
    const store = path.join(directory, 'store');
    const junit = path.join(directory, 'ws-ceiling.xml');
    const markdown = '/proc/ws-ceiling-summary.md';
    const result = await run(url, store, ['--junit', junit, '--markdown', markdown]);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain(`Ceiling:     ${CAP} concurrent connections`);
    expect(result.stdout).toContain(`Stored in ${store}`);
    const [stored] = await storedRuns(store);
    expect(stored?.ceiling.value).toBe(CAP);
    expect(result.stderr).toContain(
      `Run ${stored?.runId} is stored; no --junit or --markdown file was changed.\n` +
        `error: --markdown: cannot write "${markdown}": the directory "/proc" does not let files be created in ` +
        'it (ENOENT)\n',
    );
    expect(result.stderr).not.toContain('Wrote ');
    expect((await readdir(directory)).sort()).toEqual(['store']);
  });

  it('prints the diagnosis too before a file fails at write time, under diagnose', async () => {
    const { url, directory } = await setUp();
    const store = path.join(directory, 'store');
    const markdown = '/proc/ws-ceiling-diagnosis.md';
    const result = await runCli([
      'diagnose',
      url,
      '--stages',
      '10,20,30',
      '--hold',
      '0.5',
      '--rate',
      '200',
      '--target-id',
      'ci-gate',
      '--store',
      store,
      '--markdown',
      markdown,
      '--experiment-budget',
      '20',
    ]);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain(`Concurrency cap at ${CAP}`);
    expect(result.stderr).toContain(`error: --markdown: cannot write "${markdown}"`);
    expect(result.stderr).not.toContain('Wrote ');
  });
});
