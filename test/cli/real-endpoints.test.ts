// ws-ceiling run, as a user runs it, against local servers shaped like real endpoints (issue 14): a cap kept per
// source address, which --source-address spreads the connections over.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunResult } from '../../functions/engine/types.js';
import { runCli, temporaryStore } from '../support/cli.js';
import { startScopedEndpoint, type RunningEndpoint } from '../support/real-endpoints.js';

let store: { directory: string; remove: () => Promise<void> };
const endpoints: RunningEndpoint[] = [];
beforeEach(async () => {
  store = await temporaryStore();
});
afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((endpoint) => endpoint.stop()));
  await store.remove();
});

/** Runs `ws-ceiling run <args> --json` with short stages into the test's store; the run and what was printed. */
async function run(args: readonly string[], environment: Record<string, string> = {}) {
  const result = await runCli(
    ['run', ...args, '--hold', '0.3', '--rate', '200', '--ping', 'off', '--json', '--store', store.directory],
    { environment },
  );
  const run = result.code === 2 ? undefined : (JSON.parse(result.stdout) as RunResult);
  return { ...result, run };
}

describe('--source-address', () => {
  it('spreads the connections over the addresses, so a cap kept per address lets each its own share', async () => {
    const endpoint = await startScopedEndpoint({ scope: { kind: 'source-address' }, cap: { limit: 3, status: 503 } });
    endpoints.push(endpoint);
    const one = await run([endpoint.url, '--stages', '2,4,6,8', '--target-id', 'one-address']);
    expect(one.run).toMatchObject({ ceiling: { value: 2 }, limitingFactor: { kind: 'concurrency-cap' } });
    const two = await run([
      endpoint.url,
      '--stages',
      '2,4,6,8',
      '--source-address',
      '127.0.0.2,127.0.0.3',
      '--target-id',
      'two-addresses',
    ]);
    expect(two.stderr).toContain('leaving from 127.0.0.2, 127.0.0.3 in turn');
    expect(two.run).toMatchObject({
      ceiling: { value: 6 },
      dropOnset: 6,
      limitingFactor: { kind: 'concurrency-cap' },
      settings: { sourceAddresses: ['127.0.0.2', '127.0.0.3'] },
    });
    expect(endpoint.admission.stats().peakOpen).toEqual({ '127.0.0.1': 3, '127.0.0.2': 3, '127.0.0.3': 3 });
  });

  it('refuses an address this machine does not have before anything is sent', async () => {
    const endpoint = await startScopedEndpoint({ scope: { kind: 'source-address' } });
    endpoints.push(endpoint);
    const result = await run([endpoint.url, '--stages', '2', '--source-address', '127.0.0.2,192.0.2.1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: --source-address: 192.0.2.1 is not an address of this machine');
    expect(endpoint.admission.stats().peakOpen).toEqual({});
  });
});
