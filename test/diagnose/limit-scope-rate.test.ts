// The limit-scope experiment of `ws-ceiling diagnose` against a handshake rate limit (a token bucket), run as a user
// runs it with --simulate: a bucket kept per source address, one kept per API key, and one for everyone. The --json
// finding names the scope, the handshakes per source before its first refusal (never the measured rate, which all
// sources shared) and the number of sources. A global bucket used to pass for a per-address one, because the hold
// between the sources refilled it. The three diagnoses run side by side to keep the file's time down.
import { afterEach, describe, expect, it } from 'vitest';
import type { Diagnosis, Finding } from '../../functions/diagnose/findings.js';
import { runCli, temporaryStore } from '../support/cli.js';

const ALTERNATE_KEY = 'alternate-rate-key-8c2e';
const stores: Array<{ remove: () => Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.remove()));
});

/** `ws-ceiling diagnose --json --simulate <spec>` with `args`: the limit-scope finding and the output. */
async function diagnose(spec: string, args: readonly string[]) {
  const store = await temporaryStore();
  stores.push(store);
  const result = await runCli([
    'diagnose',
    ...['--simulate', spec, '--stages', '10,60', '--hold', '0.3', '--rate', '60', '--ping', 'off'],
    ...['--experiment-budget', '20', '--json', '--store', store.directory],
    ...args,
  ]);
  const diagnosis = JSON.parse(result.stdout) as Diagnosis;
  const scopeFinding = diagnosis.findings.find((finding) => finding.experiment === 'limit-scope');
  const rateFinding = diagnosis.findings.find((finding) => finding.kind === 'handshake-rate-limit');
  return { result, scopeFinding, rateFinding };
}

/** What each source got before its first refusal, from the finding. */
function admitted(finding: Finding | undefined): number[] {
  return finding?.kind === 'limit-scope' ? finding.values.admitted : [];
}

describe.concurrent('diagnose limit-scope of a handshake rate limit', () => {
  it('finds a rate limit kept per source address, without quoting the rate measured from both', async () => {
    const { scopeFinding, rateFinding } = await diagnose('rate=10,burst=10,retry-after=0,per=source-address', [
      ...['--source-address', '127.0.0.1,127.0.0.2'],
    ]);
    expect(rateFinding?.kind).toBe('handshake-rate-limit');
    const [first = 0, second = 0] = admitted(scopeFinding);
    // A bucket of 10 refilling at 10/s, tried at 60/s: about 12 through before the first refusal, from each address.
    expect(first).toBeGreaterThanOrEqual(8);
    expect(second).toBeGreaterThanOrEqual(8);
    expect(scopeFinding).toMatchObject({
      kind: 'limit-scope',
      values: { scope: 'source-address', perScope: first, sources: 2, by: 'source-address' },
      sentence:
        `The handshake rate limit is per source address: a second address got ${second} handshakes through after ` +
        `the first was refused at ${first}.`,
    });
    expect(scopeFinding?.sentence).not.toMatch(/\/s/);
  });

  it('finds a rate limit kept per API key with --alternate-header, and never shows the alternate key', async () => {
    const { scopeFinding, result } = await diagnose('rate=20,burst=10,retry-after=0,per=header:x-api-key', [
      ...['--header', 'x-api-key: first-rate-key', '--alternate-header', `x-api-key: ${ALTERNATE_KEY}`],
    ]);
    const [first = 0, second = 0] = admitted(scopeFinding);
    expect(first).toBeGreaterThanOrEqual(8);
    expect(scopeFinding).toMatchObject({
      kind: 'limit-scope',
      values: { scope: 'credential', perScope: first, sources: 2, by: 'credential' },
      sentence:
        `The handshake rate limit is per credential: a second credential got ${second} handshakes through after the ` +
        `first was refused at ${first}.`,
    });
    for (const text of [result.stdout, result.stderr]) expect(text).not.toContain(ALTERNATE_KEY);
  });

  it('finds a global rate limit: a second address is refused at once', async () => {
    const { scopeFinding } = await diagnose('rate=20,burst=10,retry-after=0', [
      ...['--source-address', '127.0.0.1,127.0.0.2'],
    ]);
    const [first = 0, second = 0] = admitted(scopeFinding);
    expect(first).toBeGreaterThanOrEqual(8);
    expect(second).toBeLessThanOrEqual(1);
    expect(scopeFinding).toMatchObject({
      kind: 'limit-scope',
      values: { scope: 'global', perScope: first, sources: 2, by: 'source-address' },
      sentence: 'The handshake rate limit is global: a second address was refused at once.',
    });
  });
});
