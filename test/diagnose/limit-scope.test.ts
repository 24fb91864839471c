// The limit-scope experiment of `ws-ceiling diagnose` (issue 14), run as a user runs it against servers on 127.0.0.1
// that keep a cap per source address, per API key, or one for everyone: the --json finding names the scope, the
// share per source and the number of sources, and the alternate credential's value appears nowhere.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Diagnosis, Finding } from '../../functions/diagnose/findings.js';
import type { ScopedLimitsOptions } from '../../functions/simulator/scoped-admission.js';
import { runCli, temporaryStore } from '../support/cli.js';
import { startScopedEndpoint, type RunningEndpoint } from '../support/real-endpoints.js';

const ALTERNATE_KEY = 'alternate-api-key-31f7';

let store: { directory: string; remove: () => Promise<void> };
const endpoints: RunningEndpoint[] = [];
beforeEach(async () => {
  store = await temporaryStore();
});
afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((endpoint) => endpoint.stop()));
  await store.remove();
});

/** `ws-ceiling diagnose --json` of a server capped at 10 per `scope`, with `args`; the diagnosis and the output. */
async function diagnose(scope: ScopedLimitsOptions['scope'], args: readonly string[]) {
  const endpoint = await startScopedEndpoint({ scope, cap: { limit: 10, status: 503 } });
  endpoints.push(endpoint);
  const result = await runCli([
    'diagnose',
    `${endpoint.url}/ws`,
    ...['--stages', '10,20,30', '--hold', '0.3', '--rate', '200', '--ping', 'off', '--experiment-budget', '20'],
    ...['--json', '--store', store.directory, '--target-id', 'scoped'],
    ...args,
  ]);
  const diagnosis = JSON.parse(result.stdout) as Diagnosis;
  const scopeFinding = diagnosis.findings.find((finding) => finding.experiment === 'limit-scope');
  return { result, diagnosis, scopeFinding, endpoint };
}

describe('diagnose limit-scope', () => {
  it('finds a cap kept per source address: a second address gets its own share', async () => {
    const { scopeFinding, diagnosis } = await diagnose({ kind: 'source-address' }, [
      '--source-address',
      '127.0.0.2,127.0.0.3',
    ]);
    expect(scopeFinding).toMatchObject<Partial<Finding>>({
      kind: 'limit-scope',
      values: {
        scope: 'source-address',
        perScope: 10,
        sources: 2,
        by: 'source-address',
        limit: { kind: 'concurrency-cap', count: 10 },
        admitted: [10, 10],
      },
      sentence: 'The cap of 10 is per source address: a second address got its own 10.',
    });
    expect(diagnosis.verdict).toBe('explained');
  });

  it('finds a cap kept per API key with --alternate-header, and never shows the alternate key', async () => {
    const { scopeFinding, result } = await diagnose({ kind: 'header', name: 'x-api-key' }, [
      ...['--header', 'x-api-key: first-api-key', '--alternate-header', `x-api-key: ${ALTERNATE_KEY}`],
    ]);
    expect(scopeFinding).toMatchObject({
      kind: 'limit-scope',
      values: { scope: 'credential', perScope: 10, sources: 2 },
      sentence: 'The cap of 10 is per credential: a second credential got its own 10.',
    });
    const history = await runCli(['history', '--json', '--store', store.directory]);
    for (const text of [result.stdout, result.stderr, history.stdout]) expect(text).not.toContain(ALTERNATE_KEY);
    expect(history.stdout).toContain('"alternateHeaderNames"');
  });

  it('finds a global cap: a second credential is refused at once', async () => {
    const { scopeFinding } = await diagnose({ kind: 'header', name: 'x-tenant' }, [
      ...['--header', 'x-tenant: acme', '--alternate-header', `x-api-key: ${ALTERNATE_KEY}`],
    ]);
    expect(scopeFinding).toMatchObject({
      kind: 'limit-scope',
      values: { scope: 'global', perScope: 10, sources: 2 },
      sentence: 'The cap of 10 is global: a second credential was refused at once.',
    });
  });
});
