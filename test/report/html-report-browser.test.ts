import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openLocalStore } from '../../bin/cli/local-store.js';
import { reportCommand } from '../../bin/cli/report-command.js';
import type { RunResult } from '../../functions/engine/types.js';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';
import { renderHtmlReport } from '../../functions/report/html-report.js';
import { reproduceCommand } from '../../functions/report/settings-flags.js';
import { loadRecordedRun, probeInProcess } from '../fixtures/simulator-runs.js';
import { temporaryStore } from '../support/cli.js';
import { CHROMIUM_INSTALL_TIMEOUT_MS, ensureChromium } from '../support/chromium.js';

/** Kept after the run (git-ignored): the report and what Chromium drew. */
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const REPORT_FILE = `${ARTIFACTS}report.html`;
const SCREENSHOT = `${ARTIFACTS}report.png`;
const PRINT_REPORT_FILE = `${ARTIFACTS}report-print.html`;
const PRINT_SCREENSHOT = `${ARTIFACTS}report-print.png`;

let browser: Browser | undefined;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  const executablePath = await ensureChromium();
  browser = await chromium.launch({ executablePath, headless: true });
}, CHROMIUM_INSTALL_TIMEOUT_MS + 60_000);

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await browser?.close();
});

/** Probes a simulator capped at 30 open connections and stores the run, as `ws-ceiling run` would. */
async function recordCappedRun(): Promise<{ run: RunResult; store: string }> {
  const simulator: RunningSimulator = await startTargetSimulator({
    cap: { limit: 30, response: { kind: 'status', status: 503 } },
  });
  cleanups.push(() => simulator.stop());
  const run = await probeInProcess(simulator.url, {
    stages: '10,20,30,40',
    hold: '1',
    rate: '200',
    targetId: 'browser-test',
  });
  const store = await temporaryStore();
  cleanups.push(store.remove);
  const local = await openLocalStore(store.directory);
  try {
    await local.store.putRun(run);
  } finally {
    await local.close();
  }
  return { run, store: store.directory };
}

async function openPage(file: string): Promise<{ page: Page; requests: string[] }> {
  if (!browser) throw new Error('Chromium did not start');
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  cleanups.push(() => page.close());
  const requests: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  await page.goto(pathToFileURL(file).href);
  return { page, requests };
}

describe('the HTML report in headless Chromium', () => {
  it('draws the timeline chart and the plain-words cause of a real capped run, fetching nothing', async () => {
    const { run, store } = await recordCappedRun();
    expect(run.limitingFactor?.kind).toBe('concurrency-cap');
    await mkdir(ARTIFACTS, { recursive: true });
    let printed = '';
    await reportCommand(
      'latest',
      { store, out: REPORT_FILE },
      { stdout: { write: (text: string) => (printed += text) } },
    );
    expect(printed.trim()).toBe(REPORT_FILE);
    expect(await readFile(REPORT_FILE, 'utf8')).toContain(run.runId);

    const { page, requests } = await openPage(REPORT_FILE);
    const headline = page.locator('.headline');
    await expect(headline.isVisible()).resolves.toBe(true);
    expect(await headline.innerText()).toContain(
      'The server refused upgrades with HTTP 503 once 30 connections were open: a concurrency cap.',
    );

    const chart = page.locator('svg.timeline-chart');
    const chartBox = await chart.boundingBox();
    expect(chartBox?.width).toBeGreaterThan(900);
    expect(chartBox?.height).toBeGreaterThan(300);
    await expect(chart.locator('.stage-step').count()).resolves.toBe(4);
    await expect(chart.locator('.open-line').count()).resolves.toBe(1);
    const markers = chart.locator('.failure-marker');
    expect(run.timeline.failures.length).toBeGreaterThan(0);
    await expect(markers.count()).resolves.toBe(run.timeline.failures.length);
    await expect(chart.locator('.failure-marker[data-class="handshake-rejected"]').count()).resolves.toBe(
      run.timeline.failures.length,
    );
    const marker = await markers.first().boundingBox();
    expect(marker && chartBox && marker.x > chartBox.x && marker.x + marker.width < chartBox.x + chartBox.width).toBe(
      true,
    );
    expect(await page.locator('.figures').innerText()).toMatch(/CEILING\s+30/i);

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(requests.filter((url) => !url.startsWith('file://'))).toEqual([]);
  });

  it('prints a recorded idle-timeout run on a white page with the chart still drawn', async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    await writeFile(
      PRINT_REPORT_FILE,
      renderHtmlReport(loadRecordedRun('idle-timeout'), { generatedAt: new Date().toISOString() }),
    );
    const { page } = await openPage(PRINT_REPORT_FILE);
    await page.emulateMedia({ media: 'print' });
    expect(await page.evaluate('getComputedStyle(document.body).backgroundColor')).toBe('rgb(255, 255, 255)');
    await expect(page.locator('svg.timeline-chart').isVisible()).resolves.toBe(true);
    await page.screenshot({ path: PRINT_SCREENSHOT, fullPage: true });
  });

  it('keeps each fact whole on paper and wraps the reproduce command between words, not inside a flag', async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    await writeFile(
      PRINT_REPORT_FILE,
      renderHtmlReport(loadRecordedRun('concurrency-cap'), { generatedAt: new Date().toISOString() }),
    );
    const { page } = await openPage(PRINT_REPORT_FILE);
    await page.emulateMedia({ media: 'print' });
    const style = (selector: string, properties: string[]) =>
      page.evaluate(
        `(() => { const style = getComputedStyle(document.querySelector(${JSON.stringify(selector)})); ` +
          `return ${JSON.stringify(properties)}.map((name) => style[name]); })()`,
      );
    expect(await style('dl.facts > div', ['display', 'breakInside'])).toEqual(['grid', 'avoid']);
    await page.setViewportSize({ width: 560, height: 800 });
    const words = await page.evaluate(
      `[...document.querySelectorAll('pre.command .word')].map((word) => ({ text: word.textContent, lines: ` +
        `Math.round(word.getBoundingClientRect().height / parseFloat(getComputedStyle(word).lineHeight || '16')) ` +
        '}))',
    );
    const flags = (words as Array<{ text: string; lines: number }>).filter((word) => word.text.startsWith('--'));
    expect(flags.length).toBeGreaterThan(10);
    expect(flags.filter((word) => word.lines !== 1)).toEqual([]);
    expect((words as Array<{ text: string }>).map((word) => word.text).join(' ')).toBe(
      reproduceCommand(loadRecordedRun('concurrency-cap')),
    );
  });
});
