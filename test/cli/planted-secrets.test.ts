// No secret leaves the probe (issue 14): a run plants one in each place a secret can come from (the target URL's
// query, a header, a header read from the environment, an init message the server echoes in its refusal, the URL
// provider's header and the token in its response) against a session gate behind a URL provider on 127.0.0.1, and
// none of them may appear in stdout, stderr, the store, the HTML report, the JUnit XML or the Markdown summary.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunResult } from '../../functions/engine/types.js';
import { startUrlProviderEndpoint } from '../../functions/simulator/url-provider-endpoint.js';
import { runCli, temporaryStore } from '../support/cli.js';
import { startGatedEndpoint } from '../support/real-endpoints.js';

const PLANTED = {
  query: 'planted-query-value-5b1e',
  header: 'planted-header-token-93ac',
  env: 'planted-env-token-7d20',
  init: 'planted-init-token-c4f8',
  providerHeader: 'planted-provider-key-0e6b',
  providerResponse: 'planted-provider-answer-',
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Every file under `directory`, read as bytes (latin1 keeps any ASCII secret findable). */
async function filesUnder(directory: string): Promise<string> {
  const names = await readdir(directory, { recursive: true, withFileTypes: true });
  const files = names.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
  return (await Promise.all(files.map((file) => readFile(file, 'latin1')))).join('\n');
}

describe('a run with secrets planted everywhere', () => {
  it('keeps every one of them out of stdout, stderr, the store, the reports, JUnit and Markdown', async () => {
    const gate = await startGatedEndpoint({ refusal: 'error-message', closeCode: 4429, cap: 2, echo: true });
    cleanups.push(() => gate.stop());
    const provider = await startUrlProviderEndpoint({
      targetUrl: gate.url,
      answer: 'token',
      tokenPrefix: PLANTED.providerResponse,
      requireHeader: { name: 'x-api-key', value: PLANTED.providerHeader },
    });
    cleanups.push(() => provider.stop());
    const store = await temporaryStore();
    cleanups.push(() => store.remove());
    const directory = store.directory;
    const files = {
      junit: path.join(directory, 'run.xml'),
      markdown: path.join(directory, 'run.md'),
      html: path.join(directory, 'report.html'),
    };
    const init = `{"type":"connection_init","payload":{"token":"${PLANTED.init}","session":"{{session}}"}}`;
    const run = await runCli(
      [
        'run',
        `${gate.url}/socket?key=${PLANTED.query}&session={{session}}`,
        ...['--stages', '1,2,3', '--hold', '0.3', '--rate', '100', '--ping', 'off', '--target-id', 'planted'],
        ...['--header', `Authorization: Bearer ${PLANTED.header}`, '--header', 'X-Env: {{env:WS_CEILING_PLANTED}}'],
        ...['--init-message', init, '--ready-when', 'connection_ack', '--ready-timeout', '2'],
        ...['--session-url-from', `POST ${provider.url}`, '--session-url-path', 'token'],
        ...['--session-url-header', `x-api-key: ${PLANTED.providerHeader}`],
        ...['--junit', files.junit, '--markdown', files.markdown, '--store', path.join(directory, 'store')],
      ],
      { environment: { WS_CEILING_PLANTED: PLANTED.env } },
    );
    const history = await runCli(['history', '--json', '--store', path.join(directory, 'store')]);
    const report = await runCli(['report', 'latest', '--out', files.html, '--store', path.join(directory, 'store')]);

    // The run did what the secrets were planted for: sessions set up with provider tokens, one refused with an echo.
    const [stored] = JSON.parse(history.stdout) as RunResult[];
    expect(stored).toMatchObject({
      ceiling: { value: 2 },
      limitingFactor: { kind: 'concurrency-cap' },
      failures: { byClass: { 'session-rejected': 1 } },
    });
    expect(provider.stats().issued).toBe(3);
    expect(gate.gate.stats().refused.cap).toBe(1);
    expect(report.code).toBe(0);

    const outputs = {
      stdout: `${run.stdout}${history.stdout}${report.stdout}`,
      stderr: `${run.stderr}${history.stderr}${report.stderr}`,
      store: await filesUnder(path.join(directory, 'store')),
      html: await readFile(files.html, 'utf8'),
      junit: await readFile(files.junit, 'utf8'),
      markdown: await readFile(files.markdown, 'utf8'),
    };
    // The reports show time to ready beside handshake latency.
    expect(outputs.html).toContain('<h2>Time to ready by stage</h2>');
    expect(outputs.markdown).toContain('| Time to ready ms p50 / p95 / p99 |');
    // What is stored can be found as it is (a secret would be too): the URL with its query value redacted.
    expect(outputs.store).toContain('key=redacted');
    expect(stored?.failures.bySessionRejection).toEqual({ 'close 4429': 1 });
    for (const [where, text] of Object.entries(outputs)) {
      for (const [what, secret] of Object.entries(PLANTED)) {
        expect(text.includes(secret), `the ${what} secret in ${where}`).toBe(false);
      }
    }
  });
});
