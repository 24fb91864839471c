// The kill switch with real signals sent to the real CLI: SIGTERM and SIGHUP stop a run as Ctrl-C does (every
// connection closed with 1000, the run stored as inconclusive, exit 3), and a second signal exits at once, saying
// what it skipped.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { RunResult } from '../../functions/engine/types.js';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';
import { runCli, temporaryStore } from '../support/cli.js';

let store: { directory: string; remove: () => Promise<void> };
beforeEach(async () => {
  store = await temporaryStore();
});
afterEach(async () => {
  await store.remove();
});

/** The runs stored in the test's store. */
async function storedRuns(): Promise<RunResult[]> {
  return JSON.parse((await runCli(['history', '--json', '--store', store.directory])).stdout) as RunResult[];
}

describe('stop signals', () => {
  let target: RunningSimulator;
  beforeEach(async () => {
    target = await startTargetSimulator({});
  });
  afterEach(async () => {
    await target.stop();
  });

  it.each(['SIGTERM', 'SIGHUP'] as const)(
    'stops on %s as on Ctrl-C: closes every connection with 1000, stores the run inconclusive, exits 3',
    async (signal) => {
      const result = await runCli(
        ['run', target.url, '--json', '--store', store.directory, '--stages', '5,10', '--hold', '30'],
        {
          // Once the run has started (the plan is printed), however long the CLI took to load.
          onStart: (child) => child.stderr?.once('data', () => setTimeout(() => child.kill(signal), 1000)),
        },
      );
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr).toContain(
        `Stopping on ${signal}: closing the 5 open connections with 1000 and storing the run; a second signal ` +
          'exits at once, without that.',
      );
      const run = JSON.parse(result.stdout) as RunResult;
      expect(run.verdict).toBe('inconclusive');
      expect(run.verdictReason).toBe(`The run was stopped before it finished (stopped by ${signal}).`);
      expect(run.stages.map((stage) => [stage.opened, stage.openAtEnd, stage.failed])).toEqual([[5, 5, 0]]);
      expect((await storedRuns()).map((stored) => stored.runId)).toEqual([run.runId]);
      await target.stop();
      expect(target.stats().clientCloseCodes).toEqual({ '1000': 5 });
      expect(target.stats().abnormalClientCloses).toBe(0);
    },
  );
});

describe('a second stop signal', () => {
  let server: WebSocketServer;
  beforeEach(async () => {
    // A server that stops reading each connection: the probe's close frames are never answered.
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    server.on('connection', (socket) => socket.pause());
    await new Promise((resolve) => server.once('listening', resolve));
  });
  afterEach(async () => {
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });

  it('exits at once, saying it skipped closing the open connections and storing the run', async () => {
    const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}`;
    let stopping = 0;
    const result = await runCli(
      ['run', url, '--json', '--store', store.directory, '--stages', '5,10', '--hold', '30'],
      {
        onStart: (child) => {
          child.stderr?.once('data', () => setTimeout(() => child.kill('SIGINT'), 1000));
          child.stderr?.on('data', (chunk: Buffer) => {
            if (stopping || !chunk.toString().includes('Stopping on SIGINT')) return;
            stopping = Date.now();
            child.kill('SIGINT');
          });
        },
      },
    );
    expect(result.code, result.stderr).toBe(3);
    // Without the second signal it would wait out the 3 s close grace.
    expect(Date.now() - stopping).toBeLessThan(2000);
    expect(result.stderr).toContain(
      'Exiting at once on a second stop signal (SIGINT): skipped closing the 5 open connections with 1000 and ' +
        'storing the run.',
    );
    expect(await storedRuns()).toEqual([]);
  });
});
